"""The loopback push service (tests/push_service.py) checked with a real sender: pywebpush and py_vapid."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Iterator

import http_ece
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import WebPusher, WebPushException, webpush

from push_service import PushService, Subscriber, b64url_decode, public_key_b64url

SUB = "mailto:ops@example.com"


@pytest.fixture
def service() -> Iterator[PushService]:
    with PushService() as push_service:
        yield push_service


@pytest.fixture(scope="module")
def vapid() -> Vapid02:
    key = Vapid02()
    key.generate_keys()
    return key


def key_of(vapid: Vapid02) -> str:
    return public_key_b64url(vapid.public_key)


def prepared(service: PushService, subscriber: Subscriber, vapid: Vapid02, data: bytes = b"hello",
             **claims: object) -> tuple[dict, bytes]:
    """The header fields and body pywebpush and py_vapid make for a push (to send by hand)."""
    body = WebPusher(subscriber.to_json()).encode(data)["body"]
    headers = {"TTL": "30", "Content-Encoding": "aes128gcm",
               **vapid.sign({"sub": SUB, "aud": service.base_url, **claims})}
    return headers, body


def post(connection: http.client.HTTPConnection, path: str, headers: dict, body: bytes) -> http.client.HTTPResponse:
    connection.request("POST", path, body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    return response


def connect(service: PushService) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", int(service.base_url.rsplit(":", 1)[1]), timeout=5)


def test_subscription_json_is_a_browsers(service: PushService) -> None:
    subscriber = service.subscribe()
    data = subscriber.to_json()
    assert data == {"endpoint": f"{service.base_url}/wpush/{subscriber.token}", "expirationTime": None,
                    "keys": {"p256dh": data["keys"]["p256dh"], "auth": data["keys"]["auth"]}}
    assert "=" not in data["keys"]["p256dh"] + data["keys"]["auth"]
    point = b64url_decode(data["keys"]["p256dh"])
    assert len(point) == 65 and point[0] == 4
    assert b64url_decode(data["keys"]["auth"]) == subscriber.auth and len(subscriber.auth) == 16


def test_a_push_is_decrypted_and_its_vapid_checked(service: PushService, vapid: Vapid02) -> None:
    subscriber = service.subscribe()
    service.expect_vapid_key(key_of(vapid))
    before = time.monotonic()
    response = webpush(subscriber.to_json(), data='{"title": "Hi"}', vapid_private_key=vapid,
                       vapid_claims={"sub": SUB}, ttl=60, headers={"Urgency": "high", "Topic": "news_1"})
    assert response.status_code == 201
    assert response.headers["Location"].startswith("/m/") and response.headers["TTL"] == "60"
    [push] = service.wait_for(1)
    assert push.payload == b'{"title": "Hi"}'
    assert (push.token, push.ttl, push.urgency, push.topic) == (subscriber.token, 60, "high", "news_1")
    assert push.claims["aud"] == service.base_url and push.claims["sub"] == SUB
    assert time.time() < push.claims["exp"] <= time.time() + 24 * 3600
    assert push.vapid_key == key_of(vapid) and push.location == response.headers["Location"]
    assert push.at >= before and push.headers["content-encoding"] == "aes128gcm"
    assert service.attempts == {subscriber.token: 1} and service.rejected == []


def test_a_reusing_sender_keeps_one_connection(service: PushService, vapid: Vapid02) -> None:
    first, second = service.subscribe(), service.subscribe()
    headers = vapid.sign({"sub": SUB, "aud": service.base_url})
    with requests.Session() as session:
        for subscriber in (first, second, first):
            response = WebPusher(subscriber.to_json(), requests_session=session).send(b"x", headers, ttl=5)
            assert response.status_code == 201, response.text
    pushes = service.wait_for(3)
    assert [p.token for p in pushes] == [first.token, second.token, first.token]
    assert service.connections == 1 and {p.connection for p in pushes} == {1}


def test_a_push_signed_with_another_key_is_refused(service: PushService, vapid: Vapid02) -> None:
    subscriber = service.subscribe()
    service.expect_vapid_key(public_key_b64url(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(WebPushException) as refused:
        webpush(subscriber.to_json(), data="hi", vapid_private_key=vapid, vapid_claims={"sub": SUB})
    assert refused.value.response.status_code == 403
    [(token, status, why)] = service.rejected
    assert (token, status) == (subscriber.token, 403) and key_of(vapid) in why
    assert service.received == []
    service.expect_vapid_key(None)
    webpush(subscriber.to_json(), data="hi", vapid_private_key=vapid, vapid_claims={"sub": SUB})
    assert len(service.wait_for(1)) == 1


def test_scripted_answers_come_first(service: PushService, vapid: Vapid02) -> None:
    subscriber = service.subscribe()
    service.answer(subscriber.token, (429, {"Retry-After": "1"}), 500)
    headers = vapid.sign({"sub": SUB, "aud": service.base_url})
    pusher = WebPusher(subscriber.to_json())
    answers = [pusher.send(f"try {n}", headers, ttl=5) for n in range(3)]
    assert [a.status_code for a in answers] == [429, 500, 201]
    assert answers[0].headers["Retry-After"] == "1"
    assert [p.payload for p in service.wait_for(1)] == [b"try 2"]
    assert service.attempts[subscriber.token] == 3 and service.rejected == []
    service.answer(subscriber.token, 410)
    assert pusher.send("gone", headers, ttl=5).status_code == 410
    assert pusher.send("back", headers, ttl=5).status_code == 201


def test_a_forgotten_endpoint_is_gone_an_unknown_one_not_found(service: PushService, vapid: Vapid02) -> None:
    subscriber = service.subscribe()
    service.answer(subscriber.token, 500)
    service.forget(subscriber.token)
    headers = vapid.sign({"sub": SUB, "aud": service.base_url})
    assert [WebPusher(subscriber.to_json()).send("x", headers, ttl=5).status_code for _ in range(2)] == [410, 410]
    stranger = {**subscriber.to_json(), "endpoint": f"{service.base_url}/wpush/nobody"}
    assert WebPusher(stranger).send("x", headers, ttl=5).status_code == 404
    assert [(t, s) for t, s, _ in service.rejected] == [(subscriber.token, 410)] * 2 + [("nobody", 404)]
    assert service.attempts == {subscriber.token: 2, "nobody": 1} and service.received == []


def _multi_record(subscriber: Subscriber) -> bytes:
    sender = ec.generate_private_key(ec.SECP256R1())
    return http_ece.encrypt(b"x" * 300, private_key=sender, dh=b64url_decode(subscriber.p256dh),
                            auth_secret=subscriber.auth, rs=100, version="aes128gcm")


def _without(name: str) -> Callable:
    return lambda h, b, s: ({k: v for k, v in h.items() if k != name}, b)


def _other_signature(authorization: str) -> str:
    token, key = authorization.split(",k=")
    payload, signature = token.rsplit(".", 1)
    return f"{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]},k={key}"


REFUSALS: dict[str, tuple[Callable, int]] = {
    "no TTL": (_without("TTL"), 400),
    "TTL not a number": (lambda h, b, s: ({**h, "TTL": "1.5"}, b), 400),
    "unknown Urgency": (lambda h, b, s: ({**h, "Urgency": "urgent"}, b), 400),
    "long Topic": (lambda h, b, s: ({**h, "Topic": "a" * 33}, b), 400),
    "padded Topic": (lambda h, b, s: ({**h, "Topic": "abc="}, b), 400),
    "no Authorization": (_without("Authorization"), 401),
    "WebPush scheme": (lambda h, b, s: ({**h, "Authorization": h["Authorization"].replace("vapid", "WebPush")}, b),
                       401),
    "padded k": (lambda h, b, s: ({**h, "Authorization": h["Authorization"] + "="}, b), 401),
    "bad signature": (lambda h, b, s: ({**h, "Authorization": _other_signature(h["Authorization"])}, b), 401),
    "no Content-Encoding": (_without("Content-Encoding"), 415),
    "aesgcm": (lambda h, b, s: ({**h, "Content-Encoding": "aesgcm"}, b), 415),
    "tampered body": (lambda h, b, s: (h, b[:-1] + bytes([b[-1] ^ 1])), 400),
    "too large": (lambda h, b, s: (h, b + b"\0" * 4096), 413),
    "several records": (lambda h, b, s: (h, _multi_record(s)), 400),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_bad_push_is_refused(service: PushService, vapid: Vapid02, case: str) -> None:
    change, status = REFUSALS[case]
    subscriber = service.subscribe()
    headers, body = change(*prepared(service, subscriber, vapid), subscriber)
    connection = connect(service)
    assert post(connection, f"/wpush/{subscriber.token}", headers, body).status == status
    assert post(connection, f"/wpush/{subscriber.token}", *prepared(service, subscriber, vapid)).status == 201
    assert [(t, s) for t, s, _ in service.rejected] == [(subscriber.token, status)]
    assert len(service.wait_for(1)) == 1 and service.connections == 1  # the connection stayed in step
    connection.close()


@pytest.mark.parametrize("claims", [{"aud": "http://127.0.0.1:1"}, {"exp": int(time.time()) + 25 * 3600},
                                    {"exp": int(time.time()) - 10}, {"sub": "ops@example.com"}])
def test_bad_claims_are_refused(service: PushService, vapid: Vapid02, claims: dict) -> None:
    subscriber = service.subscribe()
    vapid.conf["no-strict"] = True  # py_vapid itself would refuse a sub that is not a URI
    try:
        headers, body = prepared(service, subscriber, vapid, **claims)
    finally:
        vapid.conf.pop("no-strict")
    assert post(connect(service), f"/wpush/{subscriber.token}", headers, body).status == 401
    [(_, _, why)] = service.rejected
    assert next(iter(claims)) in why


def test_on_push_and_wait_for(service: PushService, vapid: Vapid02) -> None:
    seen: list = []
    done = threading.Event()
    service.on_push = lambda subscriber, push: (seen.append((subscriber, push.payload)), done.set())
    with pytest.raises(AssertionError, match="waited for 1"):
        service.wait_for(1, timeout=0.05)
    subscriber = service.subscribe()
    webpush(subscriber.to_json(), data="ping", vapid_private_key=vapid, vapid_claims={"sub": SUB})
    assert done.wait(5) and seen == [(subscriber, b"ping")] and service.errors == []

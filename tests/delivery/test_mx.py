"""Direct-MX delivery to local listeners (an MX-resolution override only tests use), DKIM-signed
and verified by dkimpy on the receiving side; MX lookup rules with a stubbed DNS resolver."""

from __future__ import annotations

import base64

import dkim
import dns.resolver
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pulsebox.delivery.dkim import DkimSigner
from pulsebox.delivery.message import Address, Mail, build
from pulsebox.delivery.transports import DeliveryError, from_url
from pulsebox.delivery.transports.mx import MxTransport, resolve_mx

from smtp_servers import smtp_server as listener  # noqa: F401 (fixture)


@pytest.fixture(scope="module")
def rsa_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def _mail(to: str) -> bytes:
    return build(Mail(Address("news@shop.example", "Shop"), [Address(to, "Zoë")], "Привіт", html="<p>Hi</p>"))


def test_delivers_to_the_mx_with_a_dkim_signature_dkimpy_verifies(listener, rsa_key):
    handler, port = listener
    pem, txt = rsa_key
    transport = MxTransport(signer=DkimSigner({"shop.example": ("s1", pem)}),
                            resolve=lambda domain: [("127.0.0.1", port)])
    transport.send("bounce@shop.example", ["zoe@example.org"], _mail("zoe@example.org"))
    transport.send("bounce@shop.example", ["ann@example.org"], _mail("ann@example.org"))
    transport.close()
    assert [m[1] for m in handler.messages] == [["zoe@example.org"], ["ann@example.org"]]
    assert transport.connections_opened == 1  # reused for the same destination host
    received = handler.messages[0][2]
    assert received.startswith(b"DKIM-Signature:")

    def dns_txt(name, timeout=5):  # noqa: ANN001, ANN202
        return txt if name == b"s1._domainkey.shop.example." else None

    assert dkim.verify(received, dnsfunc=dns_txt)
    tampered = received.replace(b"<p>Hi</p>", b"<p>Hi!</p>")
    assert not dkim.verify(tampered, dnsfunc=dns_txt)


def test_a_domain_without_a_key_is_sent_unsigned(listener, rsa_key):
    handler, port = listener
    transport = MxTransport(signer=DkimSigner({"other.example": ("s1", rsa_key[0])}),
                            resolve=lambda domain: [("127.0.0.1", port)])
    transport.send("b@shop.example", ["x@example.org"], _mail("x@example.org"))
    assert not handler.messages[0][2].startswith(b"DKIM-Signature:")


def test_falls_back_to_the_next_mx_and_groups_by_domain(listener):
    handler, port = listener
    looked_up = []

    def resolve(domain):  # noqa: ANN001, ANN202
        looked_up.append(domain)
        return [("127.0.0.1", 1), ("127.0.0.1", port)]  # the preferred MX is down

    transport = MxTransport(resolve=resolve, timeout=3)
    transport.send("b@shop.example", ["a@one.example", "b@one.example", "c@two.example"], _mail("a@one.example"))
    assert sorted(looked_up) == ["one.example", "two.example"]
    assert sorted(tuple(m[1]) for m in handler.messages) == [("a@one.example", "b@one.example"), ("c@two.example",)]


def test_permanent_and_transient_failures(listener):
    handler, port = listener
    transport = MxTransport(resolve=lambda domain: [("127.0.0.1", port)])
    handler.rcpt_answers = ["550 5.1.1 No such user"]
    with pytest.raises(DeliveryError) as bounced:
        transport.send("b@shop.example", ["ghost@example.org"], _mail("ghost@example.org"))
    assert bounced.value.permanent and bounced.value.code == 550
    down = MxTransport(resolve=lambda domain: [("127.0.0.1", 1)], timeout=2)
    with pytest.raises(DeliveryError) as unreachable:
        down.send("b@shop.example", ["a@example.org"], _mail("a@example.org"))
    assert not unreachable.value.permanent


class _Mx:
    def __init__(self, preference: int, exchange: str) -> None:
        self.preference, self.exchange = preference, exchange


def test_mx_lookup_rules(monkeypatch):
    answers = {
        "multi.example": [_Mx(20, "b.mx.example."), _Mx(10, "a.mx.example.")],
        "nullmx.example": [_Mx(0, ".")],
    }

    def fake_resolve(name, rdtype):  # noqa: ANN001, ANN202 - the public DNS is off this machine
        if name == "gone.example":
            raise dns.resolver.NXDOMAIN()
        if name not in answers:
            raise dns.resolver.NoAnswer()
        return answers[name]

    monkeypatch.setattr(dns.resolver, "resolve", fake_resolve)
    assert resolve_mx("multi.example") == [("a.mx.example", 25), ("b.mx.example", 25)]
    assert resolve_mx("plain.example") == [("plain.example", 25)]  # implicit MX
    with pytest.raises(DeliveryError) as null:
        resolve_mx("nullmx.example")
    assert null.value.permanent
    with pytest.raises(DeliveryError) as gone:
        resolve_mx("gone.example")
    assert gone.value.permanent


def test_mx_url_reads_a_key_directory(tmp_path, rsa_key):
    (tmp_path / "shop.example.pem").write_bytes(rsa_key[0])
    transport = from_url(f"mx://?dkim_keys={tmp_path}&dkim_selector=s2&helo=mail.shop.example", data_dir=None)
    assert isinstance(transport, MxTransport) and transport.helo == "mail.shop.example"
    assert transport.signer.keys["shop.example"][0] == "s2"

"""outbound: the one way Pulsebox calls a user's URL, against real HTTP(S) servers on this machine.

Nothing of httpx is stood in for. The only stand-in is ``socket.getaddrinfo`` for names that exist
nowhere (hook.test, ...): it plays a DNS server off this machine, whose answers an attacker controls.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ports import free_port

from pulsebox import outbound
from pulsebox.outbound import Pool, UnsafeTarget, check_url, post, resolve

HUGE = bytes(range(256)) * 4096  # 1 MiB, every byte at a known place


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # names lowercased
    body: bytes
    peer_port: int = 0  # the client's port: one per connection


class _Handler(BaseHTTPRequestHandler):
    """Routes by path: /status/<n>, /redirect (302 to /target), /huge (1 MiB), /pause (0.2 s, then 200),
    /slow (answers when the test ends), /endless (a
    body that does not end), /drip (a header byte every 50 ms, for 10 s); anything else 200."""

    protocol_version = "HTTP/1.1"
    server: Hooks

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.do_POST()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.seen.append(Seen(self.command, self.path,
                                     {k.lower(): v for k, v in self.headers.items()}, body, self.client_address[1]))
        route = self.path.partition("?")[0]
        if route.startswith("/status/"):
            self._answer(int(route.rsplit("/", 1)[1]), b"answer " + route.encode())
        elif route == "/redirect":
            self._answer(302, b"", (("Location", "/target"),))
        elif route == "/huge":
            self._answer(200, HUGE)
        elif route == "/pause":
            time.sleep(0.2)
            self._answer(200, b"paused")
        elif route == "/slow":
            self.server.release.wait(5)
            self._answer(200, b"too late")
        elif route == "/endless":  # announces 1 GB and sends until the client hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(2**30))
            self.end_headers()
            while not self.server.release.is_set():
                self.wfile.write(HUGE[:65536])
        elif route == "/bye":  # answers as if the connection stayed open, then closes it (an idle timeout)
            self._answer(200, b"bye")
            self.close_connection = True
        elif route == "/drip":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Drip: ")
            for _ in range(200):
                if self.server.release.wait(0.05):
                    return
                self.wfile.write(b"x")
                self.wfile.flush()
        else:
            self._answer(200, b"ok")

    def _answer(self, status: int, body: bytes, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Hooks(ThreadingHTTPServer):
    """A scripted webhook receiver that records every request it gets."""

    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.seen: list[Seen] = []
        self.release = threading.Event()
        self.tls = tls
        super().__init__((host, free_port()), _Handler)
        self.port = self.server_address[1]

    def get_request(self) -> tuple[socket.socket, object]:
        sock, peer = super().get_request()
        if self.tls is not None:  # the handshake happens in the handler's thread, at its first read
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, peer

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up (timeouts), a refused certificate: expected here

    def __enter__(self) -> Self:
        threading.Thread(target=self.serve_forever, args=(0.01,), daemon=True).start()  # quick to shut down
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


@pytest.fixture
def hooks():
    with Hooks() as server:
        yield server


class Names(dict):
    """Names of our own, each with its addresses, or a list of them, one per lookup in turn (the last
    one staying); ``lookups`` records every lookup of them."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups: list[str] = []

    def answer(self, host: str) -> list[str]:
        self.lookups.append(host)
        answers = self[host]
        if answers and isinstance(answers[0], list):
            answers = answers[min(self.lookups.count(host), len(answers)) - 1]
        return answers


@pytest.fixture
def dns(monkeypatch):
    """``dns["hook.test"] = ["127.0.0.1"]``: a DNS of names that exist nowhere else. Other names (and
    IP literals, which httpcore passes to getaddrinfo too) go to the real resolver."""
    real = socket.getaddrinfo
    names = Names()

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in names:
            return real(host, port, *args, **kwargs)
        answers = names.answer(host)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, port, 0, 0)) if ":" in a
                else (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, port)) for a in answers]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


# --- check_url -----------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "ftp://example.com/", "file:///etc/passwd", "javascript:alert(1)", "http://", "https://", "not a url",
    "example.com/hook", "//example.com/hook", "http:/example.com", "http://user:pw@example.com/",
    "http://@example.com/", "http://example.com/a b", "http://example.com/a\nb", "http://exa\tmple.com/",
    "http://example.com/\x00", "http://example.com:0/", "http://example.com:70000/", "http://example.com:-1/",
    "http://example.com:+80/", "http://example.com:8o/", "http://:80/", "http://[::1/", "http://[fe80::1%25eth0]/",
    "http://[v1.x]/", "http://::1/", "https://example.com/" + "a" * 2980, 42,
])
def test_check_url_refuses(url):
    with pytest.raises(UnsafeTarget):
        check_url(url)


@pytest.mark.parametrize("url", [
    "http://example.com", "https://example.com/hooks/in?x=1&y=%20z#frag", "http://example.com:8080/a/b",
    "HTTPS://Example.COM:443/", "http://example.com:/", "http://[2001:db8::1]/", "https://[::1]:8443/p?q",
    "http://203.0.113.9:65535/", "https://bücher.de/ü", "http://hook.test/" + "a" * 1980,
])
def test_check_url_accepts_and_returns_the_url_unchanged(url):
    assert check_url(url) is url


# --- resolve -------------------------------------------------------------------------------------

UNSAFE = [
    "http://127.0.0.1/", "http://localhost/", "http://[::1]/", "http://10.1.2.3/", "http://172.16.0.1/",
    "http://192.168.0.1/", "http://169.254.169.254/latest/meta-data", "http://[fd00:ec2::254]/",
    "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://100.64.0.1/", "http://2130706433/", "http://127.1/",
    "http://[::]/", "http://[fe80::1]/", "http://[fc00::1]/", "http://224.0.0.1/", "http://[ff02::1]/",
    "http://255.255.255.255/", "http://192.0.2.1/", "http://[64:ff9b::7f00:1]/", "http://[2002:a01:203::]/",
    "http://[::ffff:169.254.169.254]/", "http://[2001:db8::1]/", "http://[::7f00:1]/",
]


@pytest.mark.parametrize("url", UNSAFE)
def test_resolve_refuses_what_is_not_public(url):
    with pytest.raises(UnsafeTarget):
        resolve(url, allow_private=False)


@pytest.mark.parametrize(("url", "address"), [
    ("http://8.8.8.8/", "8.8.8.8"),
    ("https://[2606:4700:4700::1111]:8443/", "2606:4700:4700::1111"),
    ("http://[::ffff:8.8.8.8]/", "::ffff:808:808"),  # IPv4-mapped, NAT64 and 6to4 of a public address
    ("http://[64:ff9b::808:808]/", "64:ff9b::808:808"),
    ("http://[2002:808:808::1]/", "2002:808:808::1"),
])
def test_resolve_passes_public_literals_as_themselves(url, address):
    assert [ipaddress.ip_address(a) for a in resolve(url, allow_private=False)] == [ipaddress.ip_address(address)]


def test_resolve_allows_private_when_asked():
    assert resolve("http://127.0.0.1:8080/", allow_private=True) == ["127.0.0.1"]
    assert resolve("http://10.1.2.3/", allow_private=True) == ["10.1.2.3"]
    assert "127.0.0.1" in resolve("http://localhost/", allow_private=True)


def test_resolve_checks_every_answer_of_a_name(dns):
    dns["public.test"] = ["8.8.8.8", "2606:4700:4700::1111"]
    dns["mixed.test"] = ["8.8.8.8", "10.0.0.7"]
    dns["mapped.test"] = ["8.8.4.4", "::ffff:192.168.1.1"]
    dns["nothing.test"] = []
    assert resolve("https://public.test/", allow_private=False) == ["8.8.8.8", "2606:4700:4700::1111"]
    for name in ("mixed.test", "mapped.test"):
        with pytest.raises(UnsafeTarget, match="private") as refused:
            resolve(f"https://{name}/", allow_private=False)
        assert "192.168" not in str(refused.value) and "10.0" not in str(refused.value)  # no map of the inside
    with pytest.raises(UnsafeTarget, match="does not resolve"):
        resolve("https://nothing.test/", allow_private=True)


# --- post: what arrives, what comes back ----------------------------------------------------------

def test_post_delivers_body_and_headers_and_returns_the_answer(hooks):
    url = f"http://127.0.0.1:{hooks.port}/status/201?event=1"
    answer = post(url, b'{"event": 1}', {"Content-Type": "application/json", "X-Signature": "abc",
                                         "Host": "evil.example", "Content-Length": "999"},
                  allow_private=True)
    assert (answer.status, answer.error, answer.ok) == (201, None, True)
    assert answer.body == b"answer /status/201"
    assert 0 <= answer.latency_ms < 2000
    [seen] = hooks.seen
    assert (seen.method, seen.path, seen.body) == ("POST", "/status/201?event=1", b'{"event": 1}')
    assert seen.headers["host"] == f"127.0.0.1:{hooks.port}"
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["x-signature"] == "abc"
    assert seen.headers["content-length"] == "12"
    assert seen.headers["user-agent"] == "Pulsebox-Webhooks/1"

    assert post(url, b"", {"user-agent": "Mine/2"}, allow_private=True).ok
    assert hooks.seen[1].headers["user-agent"] == "Mine/2"


def test_latency_is_measured(hooks):
    answer = post(f"http://127.0.0.1:{hooks.port}/pause", b"", {}, allow_private=True)
    assert answer.ok and answer.body == b"paused"
    assert 200 <= answer.latency_ms < 2000


@pytest.mark.parametrize("status", [204, 400, 404, 500, 503])
def test_any_http_answer_is_an_answer(hooks, status):
    answer = post(f"http://127.0.0.1:{hooks.port}/status/{status}", b"x", {}, allow_private=True)
    assert (answer.status, answer.error, answer.ok) == (status, None, status < 300)


def test_a_redirect_is_returned_not_followed(hooks):
    answer = post(f"http://127.0.0.1:{hooks.port}/redirect", b"x", {}, allow_private=True)
    assert (answer.status, answer.error, answer.ok) == (302, None, False)
    time.sleep(0.05)  # a follow-up request, were there one, has time to arrive
    assert [s.path for s in hooks.seen] == ["/redirect"]


def test_a_huge_answer_is_cut_at_the_cap(hooks):
    started = time.monotonic()
    answer = post(f"http://127.0.0.1:{hooks.port}/huge", b"x", {}, allow_private=True, max_response_bytes=1000)
    assert (answer.status, answer.error) == (200, None)
    assert answer.body == HUGE[:1000]
    assert post(f"http://127.0.0.1:{hooks.port}/huge", b"x", {}, allow_private=True).body == HUGE[:4096]
    assert post(f"http://127.0.0.1:{hooks.port}/huge", b"x", {}, allow_private=True,
                max_response_bytes=0).body == b""
    assert time.monotonic() - started < 2


def test_the_body_is_read_only_up_to_the_cap_then_the_connection_closed(hooks):
    """Reading on to the end would last until the timeout (the body announces 1 GB)."""
    started = time.monotonic()
    answer = post(f"http://127.0.0.1:{hooks.port}/endless", b"x", {}, allow_private=True, timeout=3)
    assert (answer.status, answer.error, answer.body) == (200, None, HUGE[:4096])
    assert time.monotonic() - started < 1


def test_a_server_that_does_not_answer_times_out_quickly(hooks):
    started = time.monotonic()
    answer = post(f"http://127.0.0.1:{hooks.port}/slow", b"x", {}, allow_private=True, timeout=0.3)
    assert answer.status is None and answer.error.startswith("timeout")
    assert time.monotonic() - started < 1.0
    assert answer.latency_ms < 1000


def test_a_server_dripping_its_headers_is_cut_at_the_timeout(hooks):
    """Every read gets a byte within 50 ms, so no read ever times out: only the deadline on the
    whole exchange ends it (without one this takes 10 s and then succeeds)."""
    started = time.monotonic()
    answer = post(f"http://127.0.0.1:{hooks.port}/drip", b"x", {}, allow_private=True, timeout=0.5)
    assert answer.status is None and answer.error.startswith("timeout")
    assert time.monotonic() - started < 1.5


def test_a_refused_connection_is_an_error_not_an_exception():
    answer = post(f"http://127.0.0.1:{free_port()}/", b"x", {}, allow_private=True, timeout=1)
    assert answer.status is None and not answer.ok
    assert "refused" in answer.error.lower()


def test_ipv6_literals_are_reached():
    try:
        server = Hooks("::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with server:
        answer = post(f"http://[::1]:{server.port}/status/200", b"six", {}, allow_private=True)
    assert (answer.status, answer.error) == (200, None)
    assert server.seen[0].headers["host"] == f"[::1]:{server.port}"
    assert server.seen[0].body == b"six"


# --- post: unsafe targets never reach anything ---------------------------------------------------

@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{port}/", "http://localhost:{port}/", "http://[::1]:{port}/", "http://10.1.2.3:{port}/",
    "http://192.168.0.1:{port}/", "http://169.254.169.254:{port}/latest/meta-data", "http://[fd00:ec2::254]:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/", "http://0.0.0.0:{port}/", "http://100.64.0.1:{port}/",
    "http://2130706433:{port}/", "http://127.1:{port}/", "http://127.0.0.1:{port}/redirect",
])
def test_post_refuses_unsafe_targets_before_connecting(hooks, url):
    started = time.monotonic()
    answer = post(url.format(port=hooks.port), b"x", {}, allow_private=False, timeout=2)
    assert answer.status is None and not answer.ok
    assert answer.error.startswith("unsafe target: ")
    assert time.monotonic() - started < 0.5  # refused, not tried and timed out
    assert hooks.seen == []
    # the same URL does reach the server when private targets are allowed: the refusal above is the check's
    if url.startswith(("http://127", "http://localhost", "http://0.0.0.0", "http://2130706433", "http://[::ffff")):
        assert post(url.format(port=hooks.port), b"x", {}, allow_private=True).status in (200, 302)
        assert len(hooks.seen) == 1


def test_post_refuses_what_check_url_refuses(hooks):
    answer = post(f"http://user:pw@127.0.0.1:{hooks.port}/", b"x", {}, allow_private=True)
    assert answer.status is None and answer.error == "unsafe target: the URL may not carry a user name or password"
    assert hooks.seen == []


# --- DNS rebinding and pinning -------------------------------------------------------------------

def test_rebinding_is_caught_at_every_call(hooks, dns):
    """The name was public when the webhook was saved (resolve), and points at this machine when the
    webhook is posted: the post resolves again and refuses."""
    dns["hook.test"] = [["8.8.8.8"], ["127.0.0.1"]]
    url = f"http://hook.test:{hooks.port}/status/200"
    assert resolve(url, allow_private=False) == ["8.8.8.8"]
    answer = post(url, b"x", {}, allow_private=False, timeout=1)
    assert answer.status is None and answer.error == "unsafe target: the URL's host resolves to a loopback address"
    assert dns.lookups == ["hook.test", "hook.test"]
    assert hooks.seen == []


def test_the_connection_goes_to_the_address_checked(hooks, dns):
    """hook.test exists only in the stand-in DNS, and only for its first lookup: the request can reach
    the server only through the address that post() resolved and checked. A second lookup by the HTTP
    library would get another answer (a rebinding attacker's) and fails the test."""
    dns["hook.test"] = [["127.0.0.1"], []]
    answer = post(f"http://hook.test:{hooks.port}/status/200?a=1", b"pinned", {}, allow_private=True)
    assert (answer.status, answer.error) == (200, None)
    assert dns.lookups == ["hook.test"]
    [seen] = hooks.seen
    assert seen.headers["host"] == f"hook.test:{hooks.port}"
    assert (seen.path, seen.body) == ("/status/200?a=1", b"pinned")


def test_the_first_checked_address_is_the_one_called(hooks, dns):
    dns["hook.test"] = ["127.0.0.1", "127.0.0.2"]
    assert resolve(f"http://hook.test:{hooks.port}/", allow_private=True) == ["127.0.0.1", "127.0.0.2"]
    assert post(f"http://hook.test:{hooks.port}/", b"x", {}, allow_private=True).ok
    dns["hook.test"] = ["127.0.0.2", "127.0.0.1"]  # the server listens on 127.0.0.1 only
    answer = post(f"http://hook.test:{hooks.port}/", b"x", {}, allow_private=True, timeout=1)
    assert answer.status is None and "refused" in answer.error.lower()


# --- kept-alive connections (Pool) ---------------------------------------------------------------

def test_a_pool_keeps_one_connection_per_name_and_resolves_only_to_open_one(hooks, dns):
    dns["hook.test"] = ["127.0.0.1"]
    with Pool(allow_private=True) as pool:
        answers = [pool.post(f"http://hook.test:{hooks.port}/status/200", str(i).encode(), {}) for i in range(5)]
    assert [a.status for a in answers] == [200] * 5
    assert [s.body for s in hooks.seen] == [b"0", b"1", b"2", b"3", b"4"]
    assert len({s.peer_port for s in hooks.seen}) == 1
    assert dns.lookups == ["hook.test"]
    assert "connection" not in hooks.seen[0].headers or hooks.seen[0].headers["connection"] != "close"


def test_a_kept_connection_is_dropped_after_refresh_and_the_new_one_checked_again(hooks, dns):
    """A name that turned private while its connection was kept (opened when the name was public: planted
    here): the next connection, after ``refresh``, is checked and refused."""
    dns["hook.test"] = ["127.0.0.1"]
    with Pool(allow_private=False, refresh=0.2, timeout=1) as pool:
        pool._checkin(outbound._target(f"http://hook.test:{hooks.port}/"),
                      outbound._Line(ipaddress.ip_address("127.0.0.1"), hooks.port, None, 1))  # as if open
        assert pool.post(f"http://hook.test:{hooks.port}/status/200", b"kept", {}).ok
        time.sleep(0.25)
        answer = pool.post(f"http://hook.test:{hooks.port}/status/200", b"x", {})
    assert answer.error == "unsafe target: the URL's host resolves to a loopback address"
    assert [s.body for s in hooks.seen] == [b"kept"]


def test_an_answer_cut_at_the_cap_closes_its_connection(hooks):
    with Pool(allow_private=True, max_response_bytes=100) as pool:
        assert pool.post(f"http://127.0.0.1:{hooks.port}/huge", b"a", {}).body == HUGE[:100]
        assert pool.post(f"http://127.0.0.1:{hooks.port}/status/200", b"b", {}).ok
        assert pool.post(f"http://127.0.0.1:{hooks.port}/status/204", b"c", {}).ok
    first, second, third = hooks.seen
    assert first.peer_port != second.peer_port == third.peer_port


def test_a_kept_connection_the_server_closed_is_replaced_and_the_post_made_once(hooks):
    with Pool(allow_private=True) as pool:
        assert pool.post(f"http://127.0.0.1:{hooks.port}/bye", b"a", {}).ok
        time.sleep(0.05)
        answer = pool.post(f"http://127.0.0.1:{hooks.port}/status/201", b"b", {})
    assert answer.status == 201
    assert [s.body for s in hooks.seen] == [b"a", b"b"] and hooks.seen[0].peer_port != hooks.seen[1].peer_port


def test_the_deadline_holds_on_a_kept_connection(hooks):
    with Pool(allow_private=True, timeout=0.5) as pool:
        assert pool.post(f"http://127.0.0.1:{hooks.port}/status/200", b"a", {}).ok
        started = time.monotonic()
        answer = pool.post(f"http://127.0.0.1:{hooks.port}/drip", b"b", {})
        assert time.monotonic() - started < 1.5
        assert answer.status is None and answer.error.startswith("timeout")
        assert pool.post(f"http://127.0.0.1:{hooks.port}/status/201", b"c", {}).status == 201
    assert hooks.seen[0].peer_port == hooks.seen[1].peer_port != hooks.seen[2].peer_port


# --- https: the name is the TLS name -------------------------------------------------------------

def _certificates(name: str) -> tuple[bytes, bytes, bytes]:
    """(CA certificate, server certificate, server key), PEM, for a server called ``name``."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Pulsebox test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return (ca.public_bytes(pem), leaf.public_bytes(pem),
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


@pytest.fixture(scope="module")
def tls_hook(tmp_path_factory):
    """An https server whose certificate names hook.test only, its SNI seen, and a client trusting its CA."""
    ca, cert, key = _certificates("hook.test")
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert)
    (folder / "key.pem").write_bytes(key)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    names: list[str | None] = []
    server_tls.sni_callback = lambda sslobj, name, context: names.append(name)
    with Hooks(tls=server_tls) as server:
        server.sni = names
        yield server, ssl.create_default_context(cadata=ca.decode())


def test_https_sends_the_name_as_sni_and_checks_the_certificate_against_it(tls_hook, dns):
    server, tls = tls_hook
    server.seen.clear()
    server.sni.clear()
    dns["hook.test"] = [["127.0.0.1"], []]
    answer = post(f"https://hook.test:{server.port}/status/200", b"secure", {}, allow_private=True, verify=tls)
    assert (answer.status, answer.error) == (200, None)
    assert server.sni == ["hook.test"]
    assert server.seen[0].headers["host"] == f"hook.test:{server.port}"
    assert server.seen[0].body == b"secure"


def test_https_refuses_a_certificate_for_another_name(tls_hook, dns):
    server, tls = tls_hook
    server.seen.clear()
    server.sni.clear()
    dns["other.test"] = ["127.0.0.1"]
    answer = post(f"https://other.test:{server.port}/status/200", b"secret", {}, allow_private=True, verify=tls)
    assert answer.status is None and "certificate" in answer.error.lower()
    assert server.sni == ["other.test"]
    time.sleep(0.05)
    assert server.seen == []


def test_a_pool_never_carries_one_names_request_on_anothers_connection(tls_hook, dns):
    """Connections are kept per name: one made for hook.test (its SNI, its certificate) is reused for
    hook.test, and a request for other.test on the same IP opens its own, whose certificate fails."""
    server, tls = tls_hook
    server.seen.clear()
    server.sni.clear()
    dns["hook.test"] = ["127.0.0.1"]
    dns["other.test"] = ["127.0.0.1"]
    with Pool(allow_private=True, verify=tls) as pool:
        assert pool.post(f"https://hook.test:{server.port}/", b"x", {}).ok
        assert pool.post(f"https://hook.test:{server.port}/", b"y", {}).ok
        answer = pool.post(f"https://other.test:{server.port}/", b"z", {})
    assert answer.status is None and "certificate" in answer.error.lower()
    assert server.sni == ["hook.test", "other.test"]
    assert [s.body for s in server.seen] == [b"x", b"y"]
    assert server.seen[0].peer_port == server.seen[1].peer_port  # one connection, kept alive


def test_the_default_client_verifies_certificates(tls_hook, dns):
    """Without a client of the caller's, public CAs only: the test CA is not trusted."""
    server, _ = tls_hook
    dns["hook.test"] = ["127.0.0.1"]
    answer = post(f"https://hook.test:{server.port}/", b"x", {}, allow_private=True, timeout=2)
    assert answer.status is None and "certificate" in answer.error.lower()


def test_the_tls_context_is_built_once():
    assert outbound._tls_context() is outbound._tls_context()

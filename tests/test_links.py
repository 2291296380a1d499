"""Link signatures are HMAC-SHA256 as RFC 2104 defines it, whatever the key's length: links mailed
before the signer was sped up (it was ``hmac.new``) stay valid."""

import hashlib
import hmac

import pytest

from pulsebox import links


@pytest.mark.parametrize("key", [b"k", b"x" * 64, b"y" * 65, b"z" * 200, bytes(range(256))[:64]])
def test_signatures_are_standard_hmac_sha256(key):
    for purpose, ids in [(links.CLICK, (1, 0)), (links.OPEN, (2**40,)), (links.confirm_purpose("A@b.c"), (7,))]:
        expected = hmac.new(key, f"{purpose}:{'.'.join(map(str, ids))}".encode(), hashlib.sha256).hexdigest()
        token = links.sign(key, purpose, *ids)
        assert token == ".".join(f"{i:x}" for i in ids) + "." + expected[:links.SIGNATURE_HEX]
        assert links.verify(key, purpose, token, len(ids)) == ids
        assert links.verify(key + b"!", purpose, token, len(ids)) is None


def test_list_unsubscribe_names_the_link_and_the_mailto_of_one_copy():
    key = b"secret"
    value = links.list_unsubscribe("https://pb.example", "bounce.example", key, 42)
    assert value == (f"<{links.unsubscribe_url('https://pb.example', key, 42)}>, "
                     f"<mailto:{links.unsubscribe_mailto('bounce.example', key, 42)}>")


def test_a_click_token_is_signed_for_its_copy_and_older_tokens_still_verify():
    key = b"secret"
    click = links.click_urls("https://pb.example", key, 0x31)
    tokens = [click(i).rpartition("/")[2] for i in range(3)]
    assert [links.verify_click(key, t) for t in tokens] == [(0x31, 0), (0x31, 1), (0x31, 2)]
    assert len({t.rpartition(".")[2] for t in tokens}) == 1  # one signature for the copy's links
    assert links.verify_click(key, links.sign(key, links.CLICK, 0x31, 2)) == (0x31, 2)  # mailed before
    assert links.verify_click(key, tokens[0].replace("31.", "32.", 1)) is None  # another copy
    assert links.verify_click(b"other", tokens[0]) is None
    opened = links.open_url("https://pb.example", key, 0x31).rpartition(".")[2]  # another purpose
    assert links.verify_click(key, f"31.0.{opened}") is None
    assert links.verify_click(key, tokens[0].rpartition(".")[0]) is None

"""Settings that are more than a read of the environment: the signing key kept in the data dir."""

from __future__ import annotations

import stat
from dataclasses import replace

import pytest

from pulsebox.config import Settings


def test_signing_key_is_made_once_private_and_shared(tmp_path):
    settings = replace(Settings.from_env(), data_dir=tmp_path, secret_key="")
    key = settings.signing_key
    assert len(key) == 64 and stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600
    assert replace(settings).signing_key == key  # a second process reads the same key
    assert list(tmp_path.iterdir()) == [tmp_path / "secret.key"]  # no temp file left behind
    assert replace(settings, secret_key="from-the-environment").signing_key == b"from-the-environment"


def test_an_empty_key_file_is_refused_not_used(tmp_path):
    (tmp_path / "secret.key").write_text("")
    with pytest.raises(SystemExit):
        replace(Settings.from_env(), data_dir=tmp_path, secret_key="").signing_key  # noqa: B018

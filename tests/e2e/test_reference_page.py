"""The API reference page (/docs) renders in a real browser: headless Chromium loads Swagger UI
from Pulsebox's own packaged files (no network beyond the server), reads /openapi.json and shows
every operation. ``scripts/test`` installs Chromium (Debian's ``chromium``) when it is missing."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from pulsebox.app import ROUTES
from pulsebox.openapi import build

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/test installs it as root)")
def test_the_reference_page_renders_every_operation(live_server, tmp_path):
    dom = subprocess.run(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000",
         "--dump-dom", f"{live_server.base_url}/docs"],
        capture_output=True, text=True, timeout=120, check=True).stdout
    assert "Pulsebox (SendPulse-compatible REST API)" in dom, dom[:2000]
    assert "Unable to render" not in dom and "errors-wrapper" not in dom
    operations = sum(len(ops) for ops in build(ROUTES)["paths"].values())
    shown = re.findall(r'class="opblock opblock-(get|post|put|patch|delete|options)', dom)
    assert len(shown) == operations, (len(shown), operations)
    assert 'data-path="/smtp/emails"' in dom and 'data-path="/oauth/access_token"' in dom

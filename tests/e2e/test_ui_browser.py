"""The admin UI in a real browser: headless Chromium (Debian's package, driven by Playwright, no
browser download) against a live ``pulsebox serve`` whose mail is captured.

Signs in, sees the dashboard, creates a list (and sees a contact the API added to it), imports a CSV
file of 1,000 contacts into it and watches the import finish, builds a segment (its match count live),
adds a webhook, creates a campaign
(previewed as typed, test-sent, sent), opens a copy in the captured inbox and follows its tracked link,
sees the click in the campaign's report, watches a
message sent through the API arrive in the captured inbox without a reload, opens
it (its HTML in the sandboxed frame, remote images blocked, its tracked links listed), checks that
another account's message is a 404 and that a form posted without its CSRF token is refused, and
signs out. With ``PULSEBOX_SCREENSHOTS=1`` the pages are also saved at desktop and phone widths into
``docs/screenshots/`` (the README links them); otherwise into the test's temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import httpx
import pytest

from .e2e_helpers import Account, Api, LiveServer, b64, poll, unique

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/test installs it as root)")]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SIZES = {"desktop": {"width": 1280, "height": 860}, "phone": {"width": 360, "height": 740}}


def send(api: Api, subject: str, to: str) -> str:
    return api.ok("POST", "/smtp/emails", json={"email": {
        "subject": subject, "from": {"name": "Shop", "email": "shop@example.com"}, "to": [{"email": to}],
        "html": b64("<h1>Thanks!</h1><p>Your <a href='https://shop.example.com/orders/1042'>order 1042</a> "
                    "ships today. <img src='https://cdn.example.com/logo.png' alt='logo'></p>"),
        "text": "Thanks! Your order 1042 ships today."}})["id"]


def test_sign_in_see_mail_arrive_open_it_and_sign_out(live_server: LiveServer, account: Account, api: Api,
                                                      tmp_path: Path):
    shots = DOCS if os.environ.get("PULSEBOX_SCREENSHOTS") == "1" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    other = live_server.create_account(unique("other"))
    send(live_server.api(other), "Their secret", "bob@example.com")
    base = live_server.base_url
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = chromium.new_context(viewport=SIZES["desktop"])
            page = context.new_page()
            page.goto(f"{base}/ui")
            assert page.url == f"{base}/ui/signin"
            page.screenshot(path=shots / "signin-desktop.png")
            page.fill("#account", account.client_id)
            page.fill("#secret", "not the secret")
            page.click("button[type=submit]")
            assert page.locator("[role=alert]").inner_text() == "Wrong account or secret."
            page.fill("#account", account.client_id)
            page.fill("#secret", account.client_secret)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/ui")
            assert page.locator("h1").inner_text() == "Dashboard"
            # a list made here, a contact added through the API, both seen here
            page.click("nav >> text=Lists")
            page.fill("#name", "Customers")
            page.click("text=Create")
            page.wait_for_selector("h1:has-text('Customers')")
            book_id = int(page.url.rsplit("/", 1)[1])
            api.ok("POST", f"/addressbooks/{book_id}/emails", json={"emails": [
                {"email": "ann@example.com", "variables": {"name": "Ann"}}]})
            page.reload()
            assert page.locator("table.list td", has_text="ann@example.com").count() == 1

            # a CSV of 1,000 contacts: uploaded, its columns mapped, imported by the worker while the page
            # follows it
            csv = tmp_path / "people.csv"
            csv.write_text("email,name,city\n" + "".join(f"p{i:04d}@example.com,Person {i},Kyiv\n" for i in range(1000)))
            page.set_input_files("#file", str(csv))
            page.click("text=Upload")
            page.wait_for_selector("text=1,000 rows after the header")
            page.screenshot(path=shots / "import-mapping-desktop.png", full_page=True)
            page.click("button:has-text('Import')")
            page.wait_for_selector("strong:has-text('Done.')", timeout=30_000)
            assert page.locator("[data-field=added]").inner_text() == "1,000"
            page.screenshot(path=shots / "import-done-desktop.png")
            page.goto(f"{base}/ui/lists/{book_id}")
            assert "1,001 contacts" in page.content()

            # a segment built with its live count, then saved
            page.fill("#var_0", "city")
            page.select_option("#cond_0", "equal")
            page.fill("#value_0", "kyiv")
            poll("the live count", lambda: page.locator("[data-field=matching]").inner_text() ==
                 "1,000 contacts (1,000 active)", timeout=15,
                 detail=lambda: page.locator("[data-field=matching]").inner_text())
            page.fill("#segment_name", "In Kyiv")
            page.screenshot(path=shots / "segment-desktop.png", full_page=True)
            page.click("text=Save the segment")
            page.wait_for_selector("#segments + ul li:has-text('In Kyiv')")

            # a webhook added here, its secret shown on its page
            page.click("nav >> text=Webhooks")
            page.fill("#url", "https://93.184.215.14/hook")
            page.check("input[name='email:delivered']")
            page.click("button:has-text('Add')")
            page.click("text=https://93.184.215.14/hook")
            page.click("summary:has-text('Show')")
            assert page.locator("code").inner_text().startswith("whsec_")
            page.screenshot(path=shots / "webhook-desktop.png", full_page=True)

            # a campaign to the list: previewed as typed, test-sent, sent; a copy opened in the inbox, its
            # tracked link followed, the click in the campaign's report
            page.click("nav >> text=Campaigns")
            page.fill("#name", "Autumn sale")
            page.fill("#sender_name", "Shop")
            page.fill("#sender_email", "shop@example.com")
            page.fill("#subject", "Autumn sale, {{name}}")
            page.fill("#body", "<h1>Sale</h1><p>Hello {{name}}, <a href='https://shop.example.com/autumn'>see "
                               "the sale</a></p>")
            assert page.frame_locator("#preview").locator("h1").inner_text(timeout=5000) == "Sale"
            page.fill("#test_to", "boss@example.com")
            page.click("#test-button")
            page.wait_for_selector("text=A test was sent to boss@example.com.")
            page.screenshot(path=shots / "campaign-new-desktop.png", full_page=True)
            page.click("text=Send the campaign")
            page.wait_for_selector("h1:has-text('Autumn sale')")
            report_url = page.url
            copy = poll("ann's copy captured", lambda: [m for m in api.ok("GET", "/capture/messages",
                                                                            params={"recipient": "ann@example.com"})
                                                        if m["subject"].startswith("Autumn sale")], timeout=30)
            page.goto(f"{base}/ui/inbox/{copy[0]['id']}")
            assert page.locator("h1").inner_text() == "Autumn sale, Ann"
            tracked = page.locator(".links li", has_text="tracked").locator("a").get_attribute("href")
            assert page.request.get(tracked, max_redirects=0).status == 302
            page.goto(report_url)
            assert "https://shop.example.com/autumn" in page.locator("table.list", has_text="autumn").inner_text()

            page.click("nav >> text=Inbox")
            page.wait_for_url(f"{base}/ui/inbox")

            # a message sent now appears without a reload (the page asks every 2 s)
            subject = unique("Your order 1042")
            send(api, subject, "ann@example.com")
            row = page.locator("#inbox tbody tr", has_text=subject)
            row.wait_for(timeout=20_000)
            assert "Their secret" not in page.content()

            row.get_by_role("link").click()
            page.wait_for_selector("h1")
            assert page.locator("h1").inner_text() == subject
            frame = page.frame_locator("iframe.preview")
            assert frame.locator("h1").inner_text() == "Thanks!"
            assert "Remote images are blocked" in page.content()
            tracked = page.locator(".links li", has_text="tracked")
            assert tracked.count() == 1 and f"{base}/t/c/" in tracked.inner_text()
            page.screenshot(path=shots / "message-desktop.png", full_page=True)
            message_url = page.url

            # another account's message is missing here; a form posted without its token changes nothing
            theirs = poll("their message captured", lambda: live_server.api(other).ok("GET", "/capture/messages"))
            their_id = theirs[0]["id"]
            assert page.goto(f"{base}/ui/inbox/{their_id}").status == 404
            assert page.request.post(f"{base}/ui/signout", form={"csrf": "forged"}).status == 403
            assert page.request.post(f"{base}/ui/inbox/clear").status == 403

            phone = chromium.new_context(viewport=SIZES["phone"], storage_state=context.storage_state())
            small = phone.new_page()
            for name, path in (("dashboard", "/ui"), ("inbox", "/ui/inbox"), ("message", message_url.removeprefix(base))):
                small.goto(base + path)
                assert small.evaluate("document.documentElement.scrollWidth") <= SIZES["phone"]["width"]
                if name == "message":  # the other pages' are the tour's (below)
                    small.screenshot(path=shots / "message-phone.png", full_page=True)
            phone.close()

            page.goto(f"{base}/ui")
            page.keyboard.press("Tab")  # the first stop is the skip link: usable by keyboard
            assert page.evaluate("document.activeElement.textContent") == "Skip to content"
            page.click("text=Sign out")
            page.wait_for_url(f"{base}/ui/signin")
            page.goto(f"{base}/ui/inbox")
            assert page.url == f"{base}/ui/signin"
        finally:
            chromium.close()


# Every page a user reaches from the menu and from what they find there, in the order they would: each
# must have its heading, log no error in the console (a Content-Security-Policy refusal is one), and fit a
# 360 px phone without sideways scrolling. (name, how to reach it from the page before: a menu entry, a link
# text to click, or a path)
TOUR = [
    ("dashboard", "/ui"), ("lists", "nav >> text=Lists"), ("list", "text=Tour list"),
    ("contact", "tr:has-text('tour-ann@example.com') >> text=Details"),
    ("campaigns", "nav >> text=Campaigns"), ("campaign-report", "text=Tour campaign"),
    ("campaign-recipients", "text=Recipients >> nth=0"),
    ("campaign-edit", "CAMPAIGN_EDIT"),
    ("templates", "nav >> text=Templates"), ("template", "text=Tour template"),
    ("log", "nav >> text=Transactional"), ("log-message", "text=Tour receipt"),
    ("unsubscribes", "nav >> text=Unsubscribes"), ("push", "nav >> text=Web push"),
    ("push-website", "text=https://tour.example.com"),
    ("senders", "nav >> text=Senders"), ("blacklist", "nav >> text=Blacklist"),
    ("webhooks", "nav >> text=Webhooks"), ("inbox", "nav >> text=Inbox"), ("settings", "nav >> text=Settings"),
]


def test_every_page_has_its_heading_no_console_error_and_fits_a_phone(live_server: LiveServer, api: Api,
                                                                     account: Account, tmp_path: Path):
    shots = DOCS if os.environ.get("PULSEBOX_SCREENSHOTS") == "1" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    base = live_server.base_url
    book = api.ok("POST", "/addressbooks", json={"bookName": "Tour list"})["id"]
    api.ok("POST", f"/addressbooks/{book}/emails", json={"emails": [
        {"email": f"tour-{n}@example.com", "variables": {"name": n.title()}} for n in ("ann", "bob", "eve")]})
    campaign = api.ok("POST", "/campaigns", json={
        "sender_name": "Shop", "sender_email": "shop@example.com", "subject": "Tour campaign", "name": "Tour campaign",
        "body": b64("<p>Hello {{name}}, <a href='https://shop.example.com/tour'>the tour</a></p>"), "list_id": book})
    other_book = api.ok("POST", "/addressbooks", json={"bookName": "Tour later"})["id"]  # one campaign a list at once
    api.ok("POST", f"/addressbooks/{other_book}/emails", json={"emails": [{"email": "tour-kim@example.com"}]})
    later = api.ok("POST", "/campaigns", json={
        "sender_name": "Shop", "sender_email": "shop@example.com", "subject": "Later", "name": "Tour later",
        "body": b64("<p>Later</p>"), "list_id": other_book, "send_date": "2099-01-01 10:00:00"})
    api.ok("POST", "/template", json={"name": "Tour template", "body": b64("<h1>Tour</h1>"), "lang": "en"})
    send(api, "Tour receipt", "tour-ann@example.com")
    api.ok("POST", "/smtp/unsubscribe", json={"emails": [{"email": "tour-eve@example.com", "comment": "asked"}]})
    api.ok("POST", "/push/websites", json={"url": "https://tour.example.com"})
    poll("the campaign sent", lambda: api.ok("GET", f"/campaigns/{campaign['id']}")["status"] == 3, timeout=30)
    copy = poll("ann's copy", lambda: [m for m in api.ok("GET", "/capture/messages", params={
        "recipient": "tour-ann@example.com"}) if m["subject"] == "Tour campaign"])
    html = api.ok("GET", f"/capture/messages/{copy[0]['id']}")["html"]  # her campaign copy: opened, clicked
    links = re.findall(rf'["\']({re.escape(base)}/t/[oc]/[^"\']+)', html)
    assert len(links) == 2, html
    for tracked in links:
        assert httpx.get(tracked.replace("&amp;", "&"), headers={"user-agent": "Mozilla/5.0 Firefox/128.0"}).status_code < 400
    steps = [(name, how.replace("CAMPAIGN_EDIT", f"/ui/campaigns/{later['id']}/edit")) for name, how in TOUR]
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for size, viewport in SIZES.items():
                page = chromium.new_context(viewport=viewport).new_page()
                errors: list[str] = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.goto(f"{base}/ui/signin")
                page.fill("#account", account.client_id)
                page.fill("#secret", account.client_secret)
                page.click("button[type=submit]")
                page.wait_for_url(f"{base}/ui")
                for name, how in steps:
                    if how.startswith("/"):
                        page.goto(base + how)
                    elif how.startswith("nav") and size == "phone" and page.locator(how).count() == 0:
                        pytest.fail(f"{name}: the menu has no {how}")
                    else:
                        page.locator(how).first.click()
                    page.wait_for_load_state()
                    assert page.locator("h1").first.is_visible(), f"{name}: no heading at {page.url}"
                    width = page.evaluate("document.documentElement.scrollWidth")
                    assert width <= viewport["width"], f"{name} is {width} px wide at {size} width ({page.url})"
                    assert errors == [], f"{name}: {errors}"
                    page.screenshot(path=shots / f"tour-{name}-{size}.png", full_page=size == "desktop")
                page.context.close()
        finally:
            chromium.close()

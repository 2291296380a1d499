"""A real headless Firefox (Debian's firefox-esr) driven over Marionette, for tests that need a browser.

``Firefox(prefs)`` starts ``firefox-esr --marionette --headless`` on a fresh profile whose user.js holds
``QUIET_PREFS`` (nothing reaches the network but what a test points it at), then ``prefs``. Marionette
listens on a port Firefox picks itself (``marionette.port`` 0, read back from the profile's
``MarionetteActivePort``), so parallel test processes never collide. ``push_prefs(ws_url)`` gives the
prefs that point Firefox's Web Push client at a loopback ``AutopushServer`` (tests/autopush.py).

``click_notification()`` clicks a notification a service worker showed (``registration.showNotification``)
the way a person would: Firefox shows it through its alerts service (in headless mode the XUL alert
window, alert.xhtml), and the click goes through that window's click handler, so the worker gets its
``notificationclick`` event and the notification is closed, as with a real click.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BINARY_NAMES = ("firefox-esr", "firefox")

# Prefs for a browser under test: no first-run pages, no updates, no telemetry, no remote settings or
# safe browsing downloads, no captive-portal or connectivity probes, and never "offline" because the
# machine has no route out.
QUIET_PREFS: dict[str, Any] = {
    "app.normandy.enabled": False,
    "app.normandy.api_url": "",
    "app.update.disabledForTesting": True,
    "app.update.auto": False,
    "browser.aboutwelcome.enabled": False,
    "browser.discovery.enabled": False,
    "browser.newtabpage.enabled": False,
    "browser.newtabpage.activity-stream.feeds.system.topstories": False,
    "browser.newtabpage.activity-stream.feeds.telemetry": False,
    "browser.newtabpage.activity-stream.telemetry": False,
    "browser.ping-centre.telemetry": False,
    "browser.region.network.url": "",
    "browser.region.update.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.downloads.remote.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.provider.google.updateURL": "",
    "browser.safebrowsing.provider.google4.updateURL": "",
    "browser.safebrowsing.provider.mozilla.updateURL": "",
    "browser.search.geoip.url": "",
    "browser.search.update": False,
    "browser.sessionstore.resume_from_crash": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage": "about:blank",
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.startup.page": 0,
    "browser.tabs.warnOnClose": False,
    "browser.topsites.contile.enabled": False,
    "browser.translations.enable": False,
    "browser.uitour.enabled": False,
    "browser.urlbar.suggest.quicksuggest.sponsored": False,
    "browser.warnOnQuit": False,
    "captivedetect.canonicalURL": "",
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.policy.dataSubmissionPolicyBypassNotification": True,
    "datareporting.usage.uploadEnabled": False,
    "extensions.blocklist.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.systemAddon.update.enabled": False,
    "extensions.update.enabled": False,
    "geo.provider.network.url": "",
    "media.gmp-manager.url": "",
    "media.gmp-gmpopenh264.enabled": False,
    "messaging-system.rsexperimentloader.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.dns.disablePrefetch": True,
    "network.http.speculative-parallel-limit": 0,
    "network.manage-offline-status": False,  # else no network interface up -> offline -> no push socket
    "network.prefetch-next": False,
    "network.trr.mode": 5,
    "remote.prefs.recommended": True,
    "security.OCSP.enabled": 0,
    "security.remote_settings.crlite_filters.enabled": False,
    "network.disable-non-local-connections": True,  # refuse anything but loopback (with the env variable)
    "services.settings.server": "data:,#remote-settings-dummy/v1",  # honoured with MOZ_DISABLE_NONLOCAL_...
    "services.sync.enabled": False,
    "signon.rememberSignons": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.server": "",
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.archive.enabled": False,
    "toolkit.startup.max_resumed_crashes": -1,
}


def push_prefs(ws_url: str) -> dict[str, Any]:
    """Prefs for Web Push through the autopush WebSocket at ``ws_url`` (ws:// on loopback), with service
    workers on plain http (127.0.0.1 and localhost are secure contexts anyway), subscriptions and
    notifications allowed without a permission prompt, and notifications shown in Firefox's own alert
    window, where ``Firefox.click_notification`` finds them.

    Tried one by one on firefox-esr 153: without ``connection.enabled`` or ``allowInsecureServerURL``
    subscribe() fails (AbortError); without ``permissions.default.desktop-notification`` or
    ``alerts.useSystemBackend`` false the push arrives but no notification shows; the rest are defaults
    made explicit, or speed-ups.
    """
    return {
        "dom.push.enabled": True,
        "dom.push.connection.enabled": True,  # required: Marionette's recommended prefs turn it off
        "dom.push.serverURL": ws_url,
        "dom.push.testing.allowInsecureServerURL": True,  # required: ws:// instead of wss://
        "dom.push.testing.ignorePermission": True,  # subscribe and deliver even where notifications are denied
        "dom.push.requestTimeout": 10000,
        "dom.push.retryBaseInterval": 500,  # reconnect quickly after the test server drops the socket
        "dom.push.maxQuotaPerSubscription": 1000,  # each push that shows no notification costs quota
        "dom.serviceWorkers.enabled": True,
        "dom.serviceWorkers.testing.enabled": True,  # service workers over plain http on any host
        "dom.webnotifications.enabled": True,
        "dom.webnotifications.requireuserinteraction": False,  # Notification.requestPermission() from script
        "permissions.default.desktop-notification": 1,  # required for showNotification(): allowed everywhere
        "alerts.useSystemBackend": False,  # required: Firefox's own alert window, present and clickable headless
    }


def firefox_binary() -> str | None:
    """The Firefox to run: $FIREFOX_BIN, else firefox-esr (or firefox) on PATH."""
    explicit = os.environ.get("FIREFOX_BIN")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in BINARY_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def firefox_unavailable_reason() -> str | None:
    """Why no Firefox test can run here (for pytest's skip reason), or None when one can."""
    if firefox_binary() is None:
        return "no firefox-esr here (apt-get install firefox-esr, or set FIREFOX_BIN)"
    try:
        _marionette_class()
    except ImportError:
        return "marionette_driver is not installed (pip install marionette_driver)"
    return None


def firefox_available() -> bool:
    """Whether Firefox and marionette_driver are both here (tests skip otherwise)."""
    return firefox_unavailable_reason() is None


def _marionette_class() -> Any:
    import warnings

    with warnings.catch_warnings():  # mozinfo and mozrunner warn of deprecations on import
        warnings.simplefilter("ignore", DeprecationWarning)
        from marionette_driver.marionette import Marionette
    return Marionette


def firefox_version() -> str:
    binary = firefox_binary()
    if binary is None:
        return ""
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


def _user_js(prefs: dict[str, Any]) -> str:
    return "".join(f"user_pref({json.dumps(name)}, {json.dumps(value)});\n" for name, value in prefs.items())


class Firefox:
    """A headless Firefox with a fresh profile, and a Marionette session to it.

    ``prefs`` come on top of ``QUIET_PREFS``. Content script runs in the current tab; ``chrome()`` (or
    ``execute_chrome_script``) runs with system privileges in the browser window. The browser's output
    goes to ``log_path`` (in the profile's parent folder), which ``log()`` reads back for failures.
    """

    def __init__(self, prefs: dict[str, Any] | None = None, *, binary: str | None = None,
                 startup_timeout: float = 60.0, script_timeout: float = 20.0, headless: bool = True,
                 extra_args: tuple[str, ...] = ()) -> None:
        self.binary = binary or firefox_binary()
        if self.binary is None:
            raise RuntimeError("no Firefox: install firefox-esr or set FIREFOX_BIN")
        self.prefs = {**QUIET_PREFS, "marionette.port": 0, **(prefs or {})}
        self.startup_timeout = startup_timeout
        self.script_timeout = script_timeout
        self.headless = headless
        self.extra_args = extra_args
        self._tmp = tempfile.TemporaryDirectory(prefix="pulsebox-firefox-")
        self.profile = Path(self._tmp.name) / "profile"
        self.log_path = Path(self._tmp.name) / "firefox.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.marionette: Any = None
        self._final_log: str | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Firefox:
        Marionette = _marionette_class()  # noqa: N806
        self.profile.mkdir(parents=True, exist_ok=True)
        (self.profile / "user.js").write_text(_user_js(self.prefs))
        args = [self.binary, "--marionette", "--no-remote", "--new-instance", "--profile", str(self.profile),
                "--remote-allow-system-access", *self.extra_args]
        env = {**os.environ, "MOZ_CRASHREPORTER_DISABLE": "1", "MOZ_CRASHREPORTER_SHUTDOWN": "1",
               "MOZ_DISABLE_AUTO_SAFE_MODE": "1", "MOZ_NO_REMOTE": "1",
               "MOZ_DISABLE_NONLOCAL_CONNECTIONS": "1"}
        if self.headless:
            args.append("--headless")
            env["MOZ_HEADLESS"] = "1"
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # no desktop session's notification daemon
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            env=env, start_new_session=True)
        port = self._wait_for_port()
        self.marionette = Marionette(host="127.0.0.1", port=port, socket_timeout=max(60.0, self.script_timeout + 30))
        self.marionette.start_session(timeout=self.startup_timeout)
        self.marionette.timeout.script = self.script_timeout
        self.marionette.timeout.page_load = 30
        return self

    def _wait_for_port(self) -> int:
        port_file = self.profile / "MarionetteActivePort"
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"Firefox exited with {self.process.returncode} on start:\n{self.log()}")
            with contextlib.suppress(FileNotFoundError, ValueError):
                port = int(port_file.read_text().strip())
                if port:
                    return port
            time.sleep(0.05)
        raise TimeoutError(f"Marionette did not listen within {self.startup_timeout}s:\n{self.log()}")

    def quit(self) -> None:
        """End the session and the browser (politely, then by signal), and remove the profile."""
        if self.marionette is not None:
            with contextlib.suppress(Exception):
                self.marionette._send_message("Marionette:Quit", {"flags": ["eForceQuit"]})
            with contextlib.suppress(Exception):
                self.marionette.client.close()
            self.marionette = None
        process, self.process = self.process, None
        if process is not None:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait(5)
        self._final_log = self.log()
        self._tmp.cleanup()

    def __enter__(self) -> Firefox:
        try:
            return self.start()
        except BaseException:
            self.quit()
            raise

    def __exit__(self, *exc: object) -> None:
        self.quit()

    def log(self, tail: int = 12000) -> str:
        """The end of what Firefox printed (kept after ``quit()`` removed the folder)."""
        if self._final_log is not None:
            return self._final_log[-tail:]
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except FileNotFoundError:
            return ""

    # -- content -----------------------------------------------------------------------------------

    def navigate(self, url: str) -> None:
        self.marionette.navigate(url)

    def execute_script(self, script: str, args: list[Any] | None = None, **kwargs: Any) -> Any:
        """Run ``script`` (a function body: ``arguments``, ``return``) in the current context."""
        return self.marionette.execute_script(script, script_args=args or [], **kwargs)

    def execute_async_script(self, script: str, args: list[Any] | None = None, **kwargs: Any) -> Any:
        """Run ``script``; it finishes by calling the last of ``arguments`` (``resolve``) with its result."""
        return self.marionette.execute_async_script(script, script_args=args or [], **kwargs)

    def execute_promise(self, script: str, args: list[Any] | None = None, **kwargs: Any) -> Any:
        """Run an async function body (``await`` allowed; ``args`` is the arguments array) and return what
        it resolves to; a rejection is raised as a JavascriptException with the error's message."""
        wrapper = (
            "const [args, resolve] = [Array.from(arguments).slice(0, -1), arguments[arguments.length - 1]];"
            f"(async () => {{ {script} }})().then(v => resolve({{ok: v === undefined ? null : v}}),"
            " e => resolve({error: String(e && e.stack ? e + '\\n' + e.stack : e)}));"
        )
        result = self.execute_async_script(wrapper, args, **kwargs)
        if isinstance(result, dict) and "error" in result:
            from marionette_driver.errors import JavascriptException

            raise JavascriptException(result["error"])
        return result["ok"] if isinstance(result, dict) else result

    # -- chrome (system privileges) ------------------------------------------------------------------

    @contextlib.contextmanager
    def chrome(self) -> Iterator[Firefox]:
        """``with ff.chrome(): ff.execute_script("return Services.appinfo.version")``"""
        with self.marionette.using_context("chrome"):
            yield self

    def execute_chrome_script(self, script: str, args: list[Any] | None = None) -> Any:
        with self.chrome():
            return self.execute_script(script, args)

    def chrome_promise(self, script: str, args: list[Any] | None = None) -> Any:
        with self.chrome():
            return self.execute_promise(script, args)

    def set_pref(self, name: str, value: Any) -> None:
        setter = {bool: "setBoolPref", int: "setIntPref", str: "setStringPref"}[type(value)]
        self.execute_chrome_script(f"Services.prefs.{setter}(arguments[0], arguments[1]);", [name, value])

    # -- notifications -------------------------------------------------------------------------------

    def notifications(self) -> list[dict[str, Any]]:
        """The notifications on screen now (Firefox's alert windows), oldest first: each one's ``title``,
        ``body``, ``host`` (host:port of the origin that showed it) and ``clickable``."""
        return self.execute_chrome_script(_LIST_ALERTS)

    def wait_for_notification(self, title: str | None = None, *, origin: str | None = None,
                              timeout: float = 10.0) -> dict[str, Any]:
        """The first notification on screen titled ``title`` (any, if None) from ``origin`` (any, if None),
        waiting up to ``timeout`` seconds for it to show."""
        host = urlsplit(origin).netloc if origin else None
        deadline = time.monotonic() + timeout
        while True:
            shown = [n for n in self.notifications()
                     if (title is None or n["title"] == title) and (host is None or n["host"] == host)]
            if shown:
                return shown[0]
            if time.monotonic() > deadline:
                raise TimeoutError(f"no notification titled {title!r} from {origin or 'any origin'} within "
                                   f"{timeout}s; on screen: {self.notifications()}")
            time.sleep(0.05)

    def click_notification(self, title: str | None = None, *, origin: str | None = None,
                           timeout: float = 10.0) -> dict[str, Any]:
        """Click a notification (as ``wait_for_notification`` finds it) as a person would: the service
        worker that showed it gets ``notificationclick``, and the notification closes. Returns it.

        Firefox's alert window closes itself 20 s after it showed (unless the notification was made with
        requireInteraction), so click before then."""
        shown = self.wait_for_notification(title, origin=origin, timeout=timeout)
        if not self.execute_chrome_script(_ACT_ON_ALERT, [shown["id"], "click"]):
            raise RuntimeError(f"the notification {shown['title']!r} went away before the click")
        return shown

    def close_notification(self, title: str | None = None, *, origin: str | None = None,
                           timeout: float = 10.0) -> dict[str, Any]:
        """Dismiss a notification with its close button: the worker gets ``notificationclose``."""
        shown = self.wait_for_notification(title, origin=origin, timeout=timeout)
        if not self.execute_chrome_script(_ACT_ON_ALERT, [shown["id"], "close"]):
            raise RuntimeError(f"the notification {shown['title']!r} went away before it was closed")
        return shown


# The XUL alert window (toolkit/content/global/alerts/alert.xhtml, windowtype "alert:alert") is what
# Firefox shows a notification in when the system backend is off. Its window.arguments are [icon, title,
# text, clickable, cookie, origin corner, dir, lang, requireInteraction, replaced window, listener,
# host:port]; alert.js keeps the title and body in labels. A click anywhere on the window calls
# onAlertClick(), which tells the listener "alertclickcallback" (Firefox then fires notificationclick in
# the worker) and closes the window; the close button calls onAlertClose() ("alertfinished" ->
# notificationclose). Those two functions are what the mouse triggers, so they are what is called here.
# (firefox-esr 153 has no nsIServiceWorkerManager.sendNotificationClickEvent any more.)
_LIST_ALERTS = """
const out = [];
for (const win of Services.wm.getEnumerator("alert:alert")) {
  const doc = win.document;
  const box = doc.getElementById("alertBox");
  if (win.closed || !box || box.hasAttribute("clicked") || box.hasAttribute("closing")) continue;  // going
  if (!win.__harnessId) win.__harnessId = Services.uuid.generateUUID().toString();
  out.push({id: win.__harnessId, title: doc.getElementById("alertTitleLabel").getAttribute("value"),
            body: doc.getElementById("alertTextLabel").textContent,
            host: win.arguments && win.arguments[11] ? String(win.arguments[11]) : null,
            clickable: !!win.gAlertTextClickable});
}
return out;
"""

_ACT_ON_ALERT = """
const [id, action] = arguments;
for (const win of Services.wm.getEnumerator("alert:alert")) {
  if (win.closed || win.__harnessId !== id) continue;
  if (action === "click") win.onAlertClick(); else win.onAlertClose();
  return true;
}
return false;
"""

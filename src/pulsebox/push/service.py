"""Web push rules: websites (with their VAPID keys), subscriptions from browsers, push tasks (one per
website per ``PULSEBOX_PUSH_TASK_INTERVAL``; a payload that cannot fit a push message is refused at
creation), the copy of a task's subscribers into sends (spread over ``stretch_time``), the payload
each send carries, and what browsers report back (shown, clicked)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

import orjson
from sqlalchemy import Connection

from pulsebox import filters, links, outbound, sealed
from pulsebox.config import Settings
from pulsebox.errors import ApiError
from pulsebox.models import utcnow
from pulsebox.push import repository, schemas, webpush
from pulsebox.pump import wake_after_commit

SEALED_AS = b"pulsebox push keys"
COPY_BATCH = 1000  # subscriptions a copy transaction reads
WORKER_PATH = "/pulsebox-push-worker.js"  # where a website serves its service worker (scope "/")
STATIC = Path(__file__).parent / "static"


# ---- websites ----

def add_website(conn: Connection, settings: Settings, account_id: int, url: str) -> dict:
    private, public = webpush.new_key_pair()
    values = {"account_id": account_id, "url": url, "appkey": secrets.token_hex(16),
              "vapid_private": sealed.seal(settings.signing_key, SEALED_AS, private), "vapid_public": public,
              "status": 1, "created_at": utcnow().replace(microsecond=0)}
    values["id"] = repository.insert_website(conn, values)
    return values


def vapid_private(settings: Settings, website: dict) -> str:
    return sealed.unseal(settings.signing_key, SEALED_AS, website["vapid_private"])


def own_website(conn: Connection, account_id: int, website_id: int) -> dict:
    found = repository.website(conn, account_id, website_id)
    if found is None:
        raise schemas.not_found("Website")
    return dict(found)


def websites(conn: Connection, account_id: int, limit: int, offset: int) -> list[dict]:
    return [dict(w) for w in repository.websites(conn, account_id, limit, offset)]


def count_websites(conn: Connection, account_id: int) -> int:
    return repository.count_websites(conn, account_id)


def website_info(conn: Connection, account_id: int, website_id: int) -> tuple[dict, dict]:
    website = own_website(conn, account_id, website_id)
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    return website, repository.subscription_counts(conn, website_id, today)


def code(conn: Connection, settings: Settings, account_id: int, website_id: int) -> dict:
    """What a site puts on its pages (``script_code``) and serves at its root (the service worker)."""
    website = own_website(conn, account_id, website_id)
    base = settings.public_url
    script_url = f"{base}/push/sdk/{website['appkey']}.js"
    config = {"appkey": website["appkey"], "vapidPublicKey": website["vapid_public"],
              "subscribeUrl": f"{base}/push/subscribe"}
    return {"script_url": script_url,
            "script_code": f'<script charset="UTF-8" src="{script_url}" async></script>',
            "service_worker_path": WORKER_PATH,
            "service_worker_code": f"self.PULSEBOX = {orjson.dumps(config).decode()};\n"
                                   f'importScripts("{base}/push/sdk/worker.js");\n'}


def snippet(conn: Connection, settings: Settings, appkey: str) -> str | None:
    """The snippet script of the website with ``appkey`` (None: no such website)."""
    website = repository.website_by_appkey(conn, appkey) if len(appkey) <= 40 else None
    if website is None:
        return None
    config = {"appkey": website["appkey"], "vapidPublicKey": website["vapid_public"],
              "subscribeUrl": f"{settings.public_url}/push/subscribe", "workerPath": WORKER_PATH}
    # </script> can't occur in JSON of these values, but the snippet is JavaScript: keep "<" out anyway
    return _static("snippet.js").replace("__PULSEBOX_CONFIG__", orjson.dumps(config).decode().replace("<", "\\u003c"))


def worker_script() -> str:
    return _static("worker.js")


@lru_cache(maxsize=2)
def _static(name: str) -> str:
    return (STATIC / name).read_text()


def variables(conn: Connection, account_id: int, website_id: int) -> list[dict]:
    own_website(conn, account_id, website_id)
    return [dict(v) for v in repository.variables(conn, website_id)]


# ---- subscriptions ----

def subscriptions(conn: Connection, account_id: int, website_id: int, limit: int, offset: int) -> list[dict]:
    own_website(conn, account_id, website_id)
    return [dict(s) for s in repository.subscriptions(conn, website_id, limit, offset)]


def count_subscriptions(conn: Connection, account_id: int, website_id: int) -> int:
    own_website(conn, account_id, website_id)
    return repository.subscription_counts(conn, website_id, utcnow())["total"]


def set_state(conn: Connection, account_id: int, subscription_id: int, state: int) -> None:
    found = repository.subscription_of_account(conn, account_id, subscription_id)
    if found is None:
        raise schemas.not_found("Subscription")
    if found["status"] == schemas.UNSUBSCRIBED:  # the browser said it is gone: no push can reach it
        raise schemas.invalid("the subscriber unsubscribed in the browser: its state cannot change")
    repository.set_subscription_status(conn, [subscription_id], state, utcnow())


def check_endpoint(settings: Settings, endpoint: str) -> None:
    """A push service URL Pulsebox may POST to: https, not resolving to a private address (re-checked at
    every connection) unless the operator allows both (``PULSEBOX_PUSH_ALLOW_PRIVATE``)."""
    if not settings.push_allow_private and not endpoint.lower().startswith("https://"):
        raise schemas.invalid("subscription.endpoint must be an https URL")
    try:
        outbound.check_url(endpoint)
    except outbound.UnsafeTarget as refused:
        raise schemas.invalid(f"subscription.endpoint: {refused}") from None


def subscribe(conn: Connection, settings: Settings, request: schemas.Subscribe, country: str) -> int:
    """A browser's subscription, new or again (the same endpoint updates its row: keys, what the page
    told, variables merged); ``old_endpoint`` (the browser's subscription changed) moves that row to
    the new endpoint, so the subscriber keeps its id and variables."""
    website = repository.website_by_appkey(conn, request.appkey)
    if website is None:
        raise schemas.not_found("Website")
    check_endpoint(settings, request.endpoint)
    try:
        webpush.check_keys(request.p256dh, request.auth)
    except ValueError:
        raise schemas.invalid("subscription.keys: p256dh must be a P-256 public key, auth 16 bytes") from None
    now = utcnow().replace(microsecond=0)
    found = repository.subscription_by_endpoint(conn, website["id"], request.endpoint)
    if found is None and request.old_endpoint:
        found = repository.subscription_by_endpoint(conn, website["id"], request.old_endpoint)
    seen = {"endpoint": request.endpoint, "p256dh": request.p256dh, "auth": request.auth, "updated_at": now,
            **{k: v for k, v in (("lang", request.lang), ("browser", request.browser), ("os", request.os),
                                 ("url", request.url), ("country_code", country)) if v}}
    if found is not None:
        status = schemas.ACTIVE if found["status"] == schemas.UNSUBSCRIBED else found["status"]
        repository.update_subscription(conn, found["id"], {
            **seen, "status": status, "variables": {**(found["variables"] or {}), **request.variables}})
        subscription_id = found["id"]
    else:
        inserted = repository.insert_subscription(conn, {
            "lang": "", "browser": "", "os": "", "url": "", "country_code": "", **seen,
            "account_id": website["account_id"], "website_id": website["id"], "variables": request.variables,
            "status": schemas.ACTIVE, "created_at": now})
        if inserted is None:  # the same browser posted twice at once: the other post made it
            raise ApiError(8, "this subscription is being saved by another request: try again")
        subscription_id = inserted
    repository.add_variables(conn, website["id"], {
        name: "number" if isinstance(value, (int, float)) else "string" for name, value in request.variables.items()})
    return subscription_id


# ---- push tasks ----

def payload(settings: Settings, task: Mapping, send_id: int) -> bytes:
    """What a send carries (the service worker's contract, push/static/worker.js)."""
    shown, click = links.push_urls(settings.public_url, settings.signing_key, send_id)
    return orjson.dumps({
        "title": task["title"], "body": task["body"], "icon": task["icon"], "image": task["image"],
        "tag": f"pulsebox-{task['id']}", "ttl": task["ttl"], "click": click(0),
        "buttons": [{"title": b["text"], "click": click(i + 1)} for i, b in enumerate(task["buttons"] or [])],
        "delivered": shown})



def create_task(conn: Connection, settings: Settings, account_id: int, request: schemas.TaskRequest) -> int:
    found = repository.website_for_update(conn, account_id, request.website_id)
    if found is None:
        raise schemas.not_found("Website")
    website = dict(found)
    now = utcnow().replace(microsecond=0)
    # an uploaded picture's link is made once the picture has its id: the longest such link counts here
    longest = links.push_picture_url(settings.public_url, settings.signing_key, 2**40)
    task = {"account_id": account_id, "website_id": website["id"], "title": request.title, "body": request.body,
            "link": request.link or website["url"], "ttl": request.ttl,
            "icon": longest if isinstance(request.icon, schemas.Picture) else request.icon,
            "image": longest if isinstance(request.image, schemas.Picture) else request.image,
            "buttons": list(request.buttons), "filters": request.filters, "send_date": request.send_date or now,
            "stretch_time": settings.push_stretch_time if request.stretch_time is None else request.stretch_time,
            "status": schemas.WAITING, "created_at": now, "cursor": 0, "copied": 0, "planned": 0,
            "copied_all": False}
    size = len(payload(settings, {**task, "id": 2**31 - 1}, 2**40))  # the longest ids a send can carry
    if size > webpush.MAX_PLAINTEXT:
        raise schemas.invalid(f"the notification takes {size} bytes: a push message holds at most "
                              f"{webpush.MAX_PLAINTEXT} (RFC 8291); shorten the title, body, links or buttons")
    last = website["last_task_at"]
    if last is not None and settings.push_task_interval and last + timedelta(seconds=settings.push_task_interval) > now:
        minutes = -(-settings.push_task_interval // 60)
        raise ApiError(711, f"You should wait for {minutes} minutes before creating a new push campaign "
                            "for the same website")
    task_id = repository.insert_task(conn, task)
    pictures = {}
    for kind in ("icon", "image"):
        upload = getattr(request, kind)
        if isinstance(upload, schemas.Picture):  # stored with the task, served at a signed public link
            picture_id = repository.insert_picture(conn, {"task_id": task_id, "name": upload.name,
                                                          "content_type": upload.content_type, "data": upload.data})
            pictures[kind] = links.push_picture_url(settings.public_url, settings.signing_key, picture_id)
    if pictures:
        repository.set_task(conn, task_id, **pictures)
    repository.set_last_task(conn, website["id"], now)
    wake_after_commit(conn)
    return task_id


def tasks(conn: Connection, account_id: int, query: schemas.TaskQuery) -> list[dict]:
    return [dict(t) for t in repository.tasks(conn, account_id, query.limit, query.offset, query.website_id,
                                              query.since, query.until)]


def task_stats(conn: Connection, account_id: int, task_id: int) -> tuple[dict, dict, dict]:
    task = repository.task(conn, account_id, task_id)
    if task is None:
        raise schemas.not_found("Push campaign")
    website = repository.website(conn, account_id, task["website_id"])
    return dict(task), dict(website or {"url": ""}), repository.send_counts(conn, task_id)


def _wanted(chosen: dict, subscription: dict) -> bool:
    if "lang" in chosen and subscription["lang"].lower() not in chosen["lang"]:
        return False
    if "browser" in chosen and subscription["browser"].lower() not in chosen["browser"]:
        return False
    if "region" in chosen and subscription["country_code"].upper() not in chosen["region"]:
        return False
    if "url" in chosen:
        kind, search, page = chosen["url"]["type"], chosen["url"]["search"], subscription["url"]
        if kind == "direct" and page not in search:
            return False
        if kind != "direct" and (search[0] in page) != (kind == "include"):
            return False
    for raw in chosen.get("filter", ()):
        if not filters.matches(filters.parse_filter(raw), subscription["variables"] or {}):
            return False
    return True


def any_to_copy(conn: Connection) -> bool:
    return repository.any_to_copy(conn, utcnow())


def copy_batch(conn: Connection) -> int:
    """The next batch of one due task's subscribers, copied into sends in one transaction with the
    task's checkpoint (``cursor``): a worker killed mid-batch rolls it back, none is copied twice.
    Sends are spread over ``stretch_time`` by their place in the website's subscribers."""
    now = utcnow()
    task = repository.lock_task_to_copy(conn, now)
    if task is None:
        return 0
    planned = task["planned"] or repository.count_active(conn, task["website_id"])
    batch = repository.active_after(conn, task["website_id"], task["cursor"], COPY_BATCH)
    start, spread = task["send_date"], task["stretch_time"]
    rows = []
    for place, subscription in enumerate(batch, start=task["copied"]):
        if _wanted(task["filters"] or {}, subscription):
            due = start + timedelta(seconds=spread * min(place, planned) / planned) if spread and planned else start
            rows.append({"task_id": task["id"], "subscription_id": subscription["id"], "due_at": due})
    if rows:
        repository.insert_sends(conn, rows)
    done = len(batch) < COPY_BATCH
    repository.set_task(conn, task["id"], cursor=batch[-1]["id"] if batch else task["cursor"],
                        copied=task["copied"] + len(batch), planned=planned, copied_all=done,
                        status=schemas.SENDING)
    if rows:
        wake_after_commit(conn)
    if done:  # a task whose filters chose no one is finished now; others when their last send is
        finish(conn, [task["id"]])
    return len(batch) or 1


def finish(conn: Connection, task_ids: Iterable[int]) -> None:
    repository.finish_tasks(conn, task_ids, utcnow().replace(microsecond=0))


# ---- what browsers report, and what they load ----

def picture(conn: Connection, picture_id: int) -> dict | None:
    found = repository.picture(conn, picture_id)
    return dict(found) if found is not None else None


def record_shown(conn: Connection, send_id: int) -> bool:
    return repository.mark_send(conn, send_id, "delivered_at", utcnow()) is not None


def record_click(conn: Connection, send_id: int, target: int) -> str | None:
    """The URL a click on target ``target`` (0 the notification, 1.. its buttons) opens; the click counted."""
    found = repository.mark_send(conn, send_id, "clicked_at", utcnow())
    if found is None:
        return None
    if target == 0:
        return found["link"]
    buttons = found["buttons"] or []
    return buttons[target - 1]["link"] if 0 < target <= len(buttons) else found["link"]



# ---- what the admin UI shows (bounded: its pages stay fast whatever a website's audience) ----

SEND_STATUSES = ("queued", "sending", "sent", "gone", "failed", "expired")  # a send's status (models.push)
SUBSCRIPTION_STATUSES = (schemas.ACTIVE, schemas.DEACTIVATED, schemas.UNSUBSCRIBED)


def count_subscribers(conn: Connection, account_id: int, website_id: int, cap: int) -> dict[int, int]:
    """The website's subscribers per status, each counted up to ``cap`` (the caller shows "cap+")."""
    return {status: repository.count_by_status(conn, account_id, website_id, status, cap)
            for status in SUBSCRIPTION_STATUSES}


def subscribers_before(conn: Connection, account_id: int, website_id: int, before: int, statuses: Iterable[int],
                       limit: int) -> list[dict]:
    """A page of the website's subscribers, newest first, below id ``before`` (keyset paging)."""
    chosen = [s for s in SUBSCRIPTION_STATUSES if s in set(statuses)]
    if not chosen:
        return []
    return [dict(s) for s in repository.subscriptions_before(conn, account_id, website_id, before, chosen, limit)]


def website_variables(conn: Connection, account_id: int, website_id: int, limit: int) -> list[dict]:
    return [dict(v) for v in repository.variables_of(conn, account_id, website_id, limit)]


def task_figures(conn: Connection, account_id: int, task_id: int) -> dict:
    """A task's sends by status (every one of ``SEND_STATUSES``), ``delivered`` (reported shown) and
    ``redirect`` (clicked), as the API's task statistics name them: linear in the task's sends."""
    return {**dict.fromkeys(SEND_STATUSES, 0), **repository.send_figures(conn, account_id, task_id)}


def tasks_before(conn: Connection, account_id: int, website_id: int | None, before: int, limit: int) -> list[dict]:
    """The account's push tasks (of one website, if given) below id ``before``, newest first (keyset)."""
    return [dict(t) for t in repository.tasks_before(conn, account_id, website_id, before, limit)]


def task_detail(conn: Connection, account_id: int, task_id: int) -> tuple[dict, dict, dict]:
    """A task of the account, its website and its figures (``task_figures``)."""
    task = repository.task(conn, account_id, task_id)
    if task is None:
        raise schemas.not_found("Push campaign")
    website = own_website(conn, account_id, task["website_id"])
    return dict(task), website, task_figures(conn, account_id, task_id)

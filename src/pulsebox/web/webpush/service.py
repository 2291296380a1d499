"""What the web push pages show and change, from the push area's service (never its repository).
Every read is bounded: a page of subscribers is an index range per status, counts stop at ``CAP``,
lists of websites, variables and campaigns are cut at a fixed length."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import Connection

from pulsebox.config import Settings
from pulsebox.push import schemas
from pulsebox.push import service as push

PAGE = 50  # subscribers a page
TASKS = 20  # push campaigns a page
WEBSITES = 100  # websites on the overview (the API pages them by 100 too)
VARIABLES = 200  # a website's variables shown
CAP = 100_000  # subscribers counted per status at most (the page says "100,000+"): a count's time is bounded
FIGURES_BUDGET = 500_000  # sends a list page counts at most (about 100 ms): a page stays fast however big
NO_PAGE = 2**63 - 1  # "before" on a first page: above every id (the largest BIGINT)
STATUS = {schemas.WAITING: "waiting for its send date", schemas.SENDING: "sending", schemas.SENT: "sent"}
SUBSCRIBER_STATUS = {schemas.ACTIVE: "active", schemas.DEACTIVATED: "deactivated",
                     schemas.UNSUBSCRIBED: "unsubscribed"}


def counted(number: int) -> str:
    """A count as the page shows it: "100,000+" once it reached ``CAP``."""
    return f"{CAP:,}+" if number >= CAP else f"{number:,}"


def _tasks(conn: Connection, account_id: int, website_id: int | None, before: int) -> list[dict]:
    """A page of push campaigns, newest first, with their ``figures`` while the sends counted stay within
    ``FIGURES_BUDGET`` (a campaign's ``planned``, its active subscribers when it started, bounds its
    sends); a campaign past it has ``figures`` None: its own page counts them."""
    out, budget = [], FIGURES_BUDGET
    for task in push.tasks_before(conn, account_id, website_id, before, TASKS):
        figures = None
        if task["planned"] <= budget:
            budget -= task["planned"]
            figures = push.task_figures(conn, account_id, task["id"])
        out.append({**task, "figures": figures, "status_text": STATUS.get(task["status"], str(task["status"]))})
    return out


def overview(conn: Connection, account_id: int, before: int) -> dict:
    """The account's websites (each with its active subscribers) and a page of its push campaigns."""
    websites = [{**w, "active": counted(push.count_subscribers(conn, account_id, w["id"], CAP)[schemas.ACTIVE])}
                for w in push.websites(conn, account_id, WEBSITES, 0)]
    urls = {w["id"]: w["url"] for w in websites}
    tasks = [{**t, "website_url": urls.get(t["website_id"], "")} for t in _tasks(conn, account_id, None, before)]
    return {"websites": websites, "tasks": tasks}


def add_website(conn: Connection, settings: Settings, account_id: int, url: str) -> int:
    return push.add_website(conn, settings, account_id, url)["id"]


def website_page(conn: Connection, settings: Settings, account_id: int, website_id: int, before: int,
                 statuses: tuple[int, ...]) -> dict:
    """A website of the account: its snippet, counts, a page of subscribers, variables, campaigns."""
    website = push.own_website(conn, account_id, website_id)
    parts = urlsplit(website["url"])
    counts = push.count_subscribers(conn, account_id, website_id, CAP)
    return {"website": website, "code": push.code(conn, settings, account_id, website_id),
            "worker_url": f"{parts.scheme}://{parts.netloc}{push.WORKER_PATH}",
            "counts": {SUBSCRIBER_STATUS[s]: counted(n) for s, n in counts.items()},
            "subscribers": push.subscribers_before(conn, account_id, website_id, before, statuses, PAGE),
            "variables": push.website_variables(conn, account_id, website_id, VARIABLES),
            "tasks": _tasks(conn, account_id, website_id, NO_PAGE)}


def set_state(conn: Connection, account_id: int, website_id: int, subscriber_id: int, state: int) -> None:
    """Activate (1) or deactivate (0) a subscriber of the account's website, as the API does."""
    push.own_website(conn, account_id, website_id)
    push.set_state(conn, account_id, subscriber_id, state)


def create_task(conn: Connection, settings: Settings, account_id: int, request: schemas.TaskRequest) -> int:
    return push.create_task(conn, settings, account_id, request)


def task_page(conn: Connection, account_id: int, task_id: int) -> dict:
    task, website, figures = push.task_detail(conn, account_id, task_id)
    return {"task": {**task, "status_text": STATUS.get(task["status"], str(task["status"]))}, "website": website,
            "figures": figures, "chosen": sum(figures[s] for s in push.SEND_STATUSES)}

"""``pulsebox serve | worker | inbound | migrate | accounts ...``: the operator's interface.

Keep these names and flags stable: scripts and other tools call them (issue #3).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

from sqlalchemy.engine import make_url

from pulsebox.accounts import service as accounts
from pulsebox.app import build
from pulsebox.balance import service as balance
from pulsebox.config import Settings
from pulsebox.context import Context
from pulsebox.db import migrate
from pulsebox.delivery.transports import capture_dir, from_url
from pulsebox.delivery.transports.capture import make_maildir
from pulsebox.inbound.listener import DEFAULT_LISTEN, Listener, parse_listen
from pulsebox.oauth import service as oauth
from pulsebox.templates.service import sync_system_templates
from pulsebox.worker.runner import Worker

log = logging.getLogger("pulsebox")


def _writable_dir(path: Path, setting: str) -> None:
    """Create ``path`` with its parents and check a file can be written there, or stop with one line."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except FileExistsError:
        raise SystemExit(f"pulsebox: cannot write to {path} ({setting}): it is a file, not a folder") from None
    except OSError as exc:
        raise SystemExit(f"pulsebox: cannot write to {path} ({setting}): {exc.strerror or exc}") from None


def _prepare_storage(settings: Settings, *, key: bool = False, maildir: bool = False) -> None:
    """Make every folder this process writes, with its parents, before anything starts: the SQLite
    file's folder, with ``key`` the data directory and the signing key in it (unless
    ``PULSEBOX_SECRET_KEY`` is set), with ``maildir`` the capture Maildir. A folder that cannot be
    made or written stops the start with one line naming the setting, never a traceback from a
    server process."""

    try:
        database = make_url(settings.database_url)
    except Exception:  # noqa: BLE001 - the engine reports a bad URL itself
        database = None
    if (database is not None and database.drivername.startswith("sqlite")
            and database.database not in (None, "", ":memory:")
            and database.query.get("mode") != "memory"):
        folder = Path(database.database).expanduser().resolve().parent
        _writable_dir(folder, "PULSEBOX_DATA_DIR" if folder == settings.data_dir else "PULSEBOX_DATABASE_URL")
    if key and not settings.secret_key:
        _writable_dir(settings.data_dir, "PULSEBOX_DATA_DIR: the signing key is kept there")
        try:
            settings.signing_key  # noqa: B018 - made now, once, not by a server process's first request
        except OSError as exc:
            raise SystemExit(f"pulsebox: cannot make or read the signing key in {settings.data_dir} "
                             f"(PULSEBOX_DATA_DIR, or set PULSEBOX_SECRET_KEY): {exc.strerror or exc}") from None
    location = capture_dir(settings.mail_url, settings.data_dir) if maildir else None
    if location is not None:

        try:
            make_maildir(location)
        except OSError as exc:
            raise SystemExit(f"pulsebox: cannot write to the Maildir {location} (PULSEBOX_MAIL_URL, "
                             f"PULSEBOX_DATA_DIR): {exc.strerror or exc}") from None


def _context(settings: Settings):  # noqa: ANN202
    return Context.create(settings)


def _prepare_database(ctx, *, allow_create: bool) -> None:  # noqa: ANN001
    """Migrate a brand-new database; refuse an out-of-date one (``pulsebox migrate`` first)."""
    state = migrate.state(ctx.db)
    if state == "outdated":
        raise SystemExit(
            f"The database schema is at revision {migrate.current(ctx.db)}, this Pulsebox needs {migrate.head()}.\n"
            "Back it up, then run `pulsebox migrate`, and start again.")
    if state == "empty":
        if not allow_create:
            raise SystemExit("The database has no schema yet: run `pulsebox migrate` first.")
        _migrate(ctx)


def _migrate(ctx) -> None:  # noqa: ANN001
    migrate.upgrade(ctx.db)
    with ctx.db.transaction() as conn:
        sync_system_templates(conn)


def _first_account(ctx) -> dict | None:  # noqa: ANN001
    """On the very first start, make the default account so the service is usable at once."""
    with ctx.db.transaction() as conn:
        if accounts.list_accounts(conn):
            return None
        return accounts.create(conn, "default")


def cmd_migrate(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    _prepare_storage(settings)
    ctx = _context(settings)
    before = migrate.current(ctx.db)
    _migrate(ctx)
    print(json.dumps({"from": before, "to": migrate.head()}))


def cmd_serve(args: argparse.Namespace) -> None:
    os.environ.setdefault("PULSEBOX_PUBLIC_URL", f"http://{args.host}:{args.port}")
    settings = Settings.from_env(host=args.host, port=args.port)
    _prepare_storage(settings, key=True, maildir=True)
    ctx = _context(settings)
    _prepare_database(ctx, allow_create=True)
    created = _first_account(ctx)
    ctx.db.dispose()
    if created:
        print("Pulsebox created the default account. Keep these credentials:", flush=True)
        print(json.dumps(created), flush=True)
    print(f"Pulsebox {settings.public_url} (database {ctx.db.url.split('@')[-1]}, mail {settings.mail_url})",
          flush=True)
    print(f"Pulsebox admin UI {settings.public_url}/ui (sign in with an account's client_id and client_secret)",
          flush=True)
    if settings.inbound_smtp and args.role == "all":
        try:
            parse_listen(settings.inbound_smtp)
        except ValueError as exc:
            raise SystemExit(f"PULSEBOX_INBOUND_SMTP: {exc}") from None
        print(f"Pulsebox inbound SMTP (bounces, complaints) on {settings.inbound_smtp}", flush=True)
    os.environ["PULSEBOX_ROLE"] = args.role
    # This process has done its part (folders, schema, first account): it becomes granian's own
    # supervisor, which imports none of Pulsebox (~60 MB less than this process holds by now);
    # each server process it starts builds the app with asgi_app().
    os.execv(sys.executable, [sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
                              "--host", args.host, "--port", str(args.port), "--workers", str(args.workers),
                              "--backlog", "2048", "--no-access-log", "pulsebox.cli:asgi_app"])


def asgi_app():  # noqa: ANN201
    """The factory each server process calls: one Context, and for role ``all`` the worker loop and
    (``PULSEBOX_INBOUND_SMTP`` set) the inbound SMTP listener."""
    settings = Settings.from_env()
    ctx = _context(settings)
    if os.environ.get("PULSEBOX_ROLE", "all") != "all":
        return build(ctx)

    worker = Worker(ctx, from_url(settings.mail_url, settings.data_dir))
    inbound = None
    if settings.inbound_smtp:

        inbound = Listener(ctx, settings.inbound_smtp)

    def start() -> None:
        worker.start()
        if inbound is not None:
            try:
                inbound.start()
            except OSError as exc:  # with --workers N, the first process to bind it serves it
                log.warning("inbound SMTP not started on %s: %s (another process may be serving it)",
                            inbound.address, exc)

    def stop() -> None:
        if inbound is not None:
            inbound.stop()
        worker.stop()

    return build(ctx, on_startup=start, on_shutdown=stop)


def cmd_worker(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    _prepare_storage(settings, key=True, maildir=True)
    ctx = _context(settings)
    _prepare_database(ctx, allow_create=False)
    worker = Worker(ctx, from_url(settings.mail_url, settings.data_dir))
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    worker.start()
    print("Pulsebox worker running", flush=True)
    done.wait()
    worker.stop()


def cmd_inbound(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    listen = args.listen or settings.inbound_smtp or DEFAULT_LISTEN
    _prepare_storage(settings, key=True)
    ctx = _context(settings)
    _prepare_database(ctx, allow_create=False)
    try:
        listener = Listener(ctx, listen)
        done = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: done.set())
        listener.start()
    except (ValueError, OSError) as exc:
        raise SystemExit(f"pulsebox inbound: cannot listen on {listen}: {exc}") from None
    print(f"Pulsebox inbound SMTP listening on {listener.address} "
          f"(bounce+/unsubscribe+ addresses @{settings.return_path_domain})", flush=True)
    done.wait()
    listener.stop()


def _overrides(args: argparse.Namespace) -> dict:
    keys = ("rate_limits", "email_quota", "max_subscribers", "campaigns_per_hour", "same_list_interval",
            "send_rate", "tariff_name", "currency", "price_per_email")
    return {k: getattr(args, k, None) for k in keys}


def cmd_accounts(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    _prepare_storage(settings)
    ctx = _context(settings)
    _prepare_database(ctx, allow_create=True)
    try:
        with ctx.db.transaction() as conn:
            if args.action == "create":
                out = accounts.create(conn, args.name, client_id=args.client_id, client_secret=args.client_secret,
                                      **_overrides(args))
            elif args.action == "list":
                for row in accounts.list_accounts(conn):
                    print(json.dumps(row))
                return
            elif args.action == "rotate-secret":
                out = oauth.rotate_secret(conn, args.account)
            elif args.action == "set":
                out = accounts.configure(conn, args.account, **_overrides(args))
            elif args.action == "set-password":
                out = accounts.set_ui_password(conn, args.account, _password())
            elif args.action == "credit":
                out = balance.credit_account(conn, args.account, args.amount, bonus=args.bonus, note=args.note)
    except accounts.AccountError as exc:
        raise SystemExit(f"pulsebox accounts {args.action}: {exc}") from None
    print(json.dumps(out))


def _password() -> str:
    """Asked twice at a terminal; otherwise the first line of standard input (never an argument: the
    process list would show it)."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("UI password: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("pulsebox accounts set-password: the two passwords differ")
    return first


def _limit_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rate-limits", help="API limits, e.g. '10/second;1000/minute;500000/day'")
    p.add_argument("--email-quota", type=int, help="emails per 30-day plan period")
    p.add_argument("--max-subscribers", type=int, help="subscriber cap of the plan")
    p.add_argument("--campaigns-per-hour", type=int, help="campaigns the API may create per hour (error 791)")
    p.add_argument("--same-list-interval", type=int, help="seconds between campaigns to one list (error 711)")
    p.add_argument("--send-rate", help="copies the account may send, e.g. '50/second;100000/day' ('off': none)")
    p.add_argument("--tariff-name", help="plan name shown by /user/balance/detail")
    p.add_argument("--currency", help="ISO currency of the balance, e.g. USD")
    p.add_argument("--price-per-email", help="price of one email beyond the plan, e.g. 0.001")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="pulsebox", description="Self-hosted email service speaking SendPulse's API")
    sub = root.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="HTTP API plus the background worker, in one process")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="HTTP server processes")
    serve.add_argument("--role", choices=("all", "api"), default="all",
                       help="'api' serves HTTP only; run `pulsebox worker` separately")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run background jobs only")
    worker.set_defaults(func=cmd_worker)

    inbound = sub.add_parser("inbound", help="SMTP listener for bounces (DSN), complaints (ARF), mailto unsubscribes")
    inbound.add_argument("--listen", metavar="HOST:PORT",
                         help="address to listen on (default: PULSEBOX_INBOUND_SMTP, else 127.0.0.1:2525)")
    inbound.set_defaults(func=cmd_inbound)

    mig = sub.add_parser("migrate", help="create or upgrade the database schema (idempotent)")
    mig.set_defaults(func=cmd_migrate)

    acc = sub.add_parser("accounts", help="manage accounts (tenants)")
    acc_sub = acc.add_subparsers(dest="action", required=True)
    create = acc_sub.add_parser("create", help="create an account; prints its client_id and client_secret")
    create.add_argument("name")
    create.add_argument("--client-id", help=argparse.SUPPRESS)  # fixed credentials, for contract tests
    create.add_argument("--client-secret", help=argparse.SUPPRESS)
    _limit_flags(create)
    acc_sub.add_parser("list", help="list accounts, one JSON line each")
    rotate = acc_sub.add_parser("rotate-secret", help="issue a new client_secret (the old one stops working)")
    rotate.add_argument("account", help="id, name or client_id")
    update = acc_sub.add_parser("set", help="change an account's limits and plan")
    update.add_argument("account", help="id, name or client_id")
    _limit_flags(update)
    password = acc_sub.add_parser("set-password", help="set the password the account signs in to the UI with "
                                                         "(asked at a terminal, else read from standard input)")
    password.add_argument("account", help="id, name or client_id")
    credit = acc_sub.add_parser("credit", help="add money to an account's balance")
    credit.add_argument("account", help="id, name or client_id")
    credit.add_argument("amount", help="decimal amount in the account's currency")
    credit.add_argument("--bonus", action="store_true", help="book it as bonus money")
    credit.add_argument("--note", default="")
    acc.set_defaults(func=cmd_accounts)
    return root


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=os.environ.get("PULSEBOX_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-connection chatter
    args = parser().parse_args(argv)
    args.func(args)

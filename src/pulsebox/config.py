"""Typed settings, read from the environment (prefix ``PULSEBOX_``).

Every per-account limit has an environment default here and a per-account override stored on the
account (``pulsebox accounts create --rate-limits ...``). The defaults are SendPulse's own values.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pulsebox import ratelimit

DEFAULT_API_RATE_LIMITS = "10/second;1000/minute;500000/day"  # document 003: burst + Free plan quotas
# per client address and kind of public /t/ route (pixel, click, pages): far above a mail client or
# a person, well below a replay script
DEFAULT_PUBLIC_RATE_LIMITS = "20/second;600/minute"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(f"PULSEBOX_{name}")
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"PULSEBOX_{name} must be a whole number, got {raw!r}") from None


def _str(name: str, default: str) -> str:
    raw = os.environ.get(f"PULSEBOX_{name}")
    return default if raw is None or raw.strip() == "" else raw.strip()


def domain_rules(spec: str) -> dict[str, tuple[ratelimit.Rule, ...]]:
    """``gmail.com=100/second;5000/minute, *=200/second`` -> {domain: rules} (``*``: any other)."""
    out: dict[str, tuple[ratelimit.Rule, ...]] = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        domain, sep, rules = part.partition("=")
        if not sep or not domain.strip():
            raise ValueError(f"expected domain=N/second;..., not {part.strip()!r}")
        out[domain.strip().lower()] = ratelimit.parse(rules.strip())
    return out


def _domain_rates(raw: str) -> str:
    try:
        domain_rules(raw)
    except ValueError as exc:
        raise SystemExit(f"PULSEBOX_DOMAIN_SEND_RATES: {exc}") from None
    return raw


def _rates(name: str, default: str) -> str:
    """A rate limit spec (``20/second;600/minute``, or ``off``), checked at start-up."""
    raw = _str(name, default)
    if raw.lower() != "off":
        try:
            ratelimit.parse(raw)
        except ValueError as exc:
            raise SystemExit(f"PULSEBOX_{name}: {exc}") from None
    return raw


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    mail_url: str
    public_url: str
    redis_url: str | None
    api_rate_limits: str
    email_quota: int  # emails per plan period (30 days)
    max_subscribers: int
    campaigns_per_hour: int
    same_list_interval: int  # seconds
    max_body_bytes: int
    system_from: str = "Pulsebox <noreply@pulsebox.localhost>"
    token_ttl: int = 3600
    free_mail_domains: tuple[str, ...] = field(default_factory=tuple)
    secret_key: str = ""  # signs tracking, unsubscribe and confirmation links; see ``signing_key``
    inbound_smtp: str | None = None  # host:port of the bounce/complaint listener inside ``serve``
    bounce_domain: str = ""  # the VERP return path's domain; empty: the system sender's domain
    sending_ips: tuple[str, ...] = ("127.0.0.1",)  # what /smtp/ips reports
    send_concurrency: int = 8  # messages handed to the transport at once
    delivery_lease: int = 300  # seconds a claimed delivery stays leased to its worker
    tracking: bool = True  # open/click tracking unless a message switches it off
    outbox_retention_days: int = 90  # sent messages older than this are deleted (0: kept for ever)
    trusted_proxies: str = ""  # IPs/networks whose X-Forwarded-For is believed (opens and clicks)
    sender_check: str = "auto"  # strict | off | auto (strict unless mail stays on this machine)
    public_rate_limits: str = DEFAULT_PUBLIC_RATE_LIMITS  # the /t/ routes, per client address; "off": none
    # sending limits (README, "Sending limits"): copies handed to the transport, "off" or rules
    send_rate: str = "off"  # every copy of every account (through Redis when set: all processes)
    account_send_rate: str = "off"  # each account's copies (an account may override it)
    domain_send_rates: str = ""  # "gmail.com=100/second;5000/minute, outlook.com=50/second, *=200/second"
    webhooks_allow_private: bool = False  # webhook URLs may reach loopback/private/link-local addresses
    push_allow_private: bool = False  # push endpoints may be http and reach loopback/private addresses
    push_task_interval: int = 900  # seconds between two push tasks of one website (SendPulse's 15 minutes)
    push_stretch_time: int = 18000  # seconds a push task's sends are spread over when it names none (5 hours)

    @cached_property
    def signing_key(self) -> bytes:
        """``PULSEBOX_SECRET_KEY``, or a random key kept in ``<data_dir>/secret.key`` (made on first
        use, mode 0600), so links mailed before a restart stay valid. Processes that share one
        database (``--role api``, ``worker``, ``inbound``) must share this key."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret.key"
        if not path.exists():  # written whole to a temp file, then linked into place: a process
            path.parent.mkdir(parents=True, exist_ok=True)  # starting alongside never reads it half-made
            temp = path.with_name(f".secret.key.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
            try:
                os.link(temp, path)  # fails if another process won the race: its key is the key
            except FileExistsError:
                pass
            finally:
                temp.unlink()
        key = path.read_text().strip().encode()
        if len(key) < 32:
            raise SystemExit(f"{path} holds no usable key: delete it, or set PULSEBOX_SECRET_KEY")
        return key

    @property
    def verify_senders(self) -> bool:
        """SMTP sends must come from an active sender or a verified domain of the account, as on
        SendPulse. ``auto`` relaxes that while mail is only captured (a laptop stand-in takes the
        app's real sender as it is); anything that leaves the machine is checked."""
        if self.sender_check in ("strict", "off"):
            return self.sender_check == "strict"
        return not self.mail_url.startswith(("capture:", "memory:"))

    @property
    def return_path_domain(self) -> str:
        return self.bounce_domain or self.system_from.rpartition("@")[2].rstrip(">").strip() or "pulsebox.localhost"

    @classmethod
    def from_env(cls, *, host: str = "127.0.0.1", port: int = 8000) -> Settings:
        data_dir = Path(_str("DATA_DIR", ".pulsebox")).expanduser().resolve()
        database_url = _str("DATABASE_URL", f"sqlite:///{data_dir / 'pulsebox.db'}")
        mail_url = _str("MAIL_URL", "capture://")
        redis_url = os.environ.get("PULSEBOX_REDIS_URL") or None
        domains = tuple(
            d.strip().lower() for d in _str("FREE_MAIL_DOMAINS", "").split(",") if d.strip()
        )
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            mail_url=mail_url,
            public_url=_str("PUBLIC_URL", f"http://{host}:{port}").rstrip("/"),
            redis_url=redis_url,
            api_rate_limits=_str("API_RATE_LIMITS", DEFAULT_API_RATE_LIMITS),
            email_quota=_int("EMAIL_QUOTA", 15000),
            max_subscribers=_int("MAX_SUBSCRIBERS", 500),
            campaigns_per_hour=_int("CAMPAIGNS_PER_HOUR", 4),
            same_list_interval=_int("SAME_LIST_INTERVAL", 900),
            max_body_bytes=_int("MAX_BODY_BYTES", 32 * 1024 * 1024),
            free_mail_domains=domains,
            system_from=_str("SYSTEM_FROM", "Pulsebox <noreply@pulsebox.localhost>"),
            secret_key=_str("SECRET_KEY", ""),
            inbound_smtp=_str("INBOUND_SMTP", "") or None,
            bounce_domain=_str("BOUNCE_DOMAIN", ""),
            sending_ips=tuple(ip.strip() for ip in _str("SENDING_IPS", "127.0.0.1").split(",") if ip.strip()),
            send_concurrency=max(1, _int("SEND_CONCURRENCY", 8)),
            delivery_lease=max(5, _int("DELIVERY_LEASE", 300)),
            tracking=_str("TRACKING", "on").lower() not in ("off", "0", "false", "no"),
            sender_check=_str("SENDER_CHECK", "auto").lower(),
            trusted_proxies=_str("TRUSTED_PROXIES", ""),
            outbox_retention_days=max(0, _int("OUTBOX_RETENTION_DAYS", 90)),
            public_rate_limits=_rates("PUBLIC_RATE_LIMITS", DEFAULT_PUBLIC_RATE_LIMITS),
            send_rate=_rates("SEND_RATE", "off"),
            account_send_rate=_rates("ACCOUNT_SEND_RATE", "off"),
            domain_send_rates=_domain_rates(_str("DOMAIN_SEND_RATES", "")),
            webhooks_allow_private=_str("WEBHOOKS_ALLOW_PRIVATE", "false").lower() in ("true", "1", "yes", "on"),
            push_allow_private=_str("PUSH_ALLOW_PRIVATE", "false").lower() in ("true", "1", "yes", "on"),
            push_task_interval=max(0, _int("PUSH_TASK_INTERVAL", 900)),
            push_stretch_time=max(0, _int("PUSH_STRETCH_TIME", 18000)),
        )

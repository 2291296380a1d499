"""Typed settings, read from the environment (prefix ``PULSEBOX_``).

Every per-account limit has an environment default here and a per-account override stored on the
account (``pulsebox accounts create --rate-limits ...``). The defaults are SendPulse's own values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_API_RATE_LIMITS = "10/second;1000/minute;500000/day"  # document 003: burst + Free plan quotas


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
        )

"""Answer shapes for the email-address methods (document 004)."""

from __future__ import annotations

from pulsebox.addressbooks.schemas import CONTACT_STATUS, typed_variables


def general_info(rows: list[dict], types: dict[int, dict]) -> list[dict]:
    return [{"book_id": r["book_id"], "email": r["email"], "status": r["status"],
             "status_explain": CONTACT_STATUS.get(r["status"], ""),
             "variables": typed_variables(r["variables"] or {}, types.get(r["book_id"], {}))} for r in rows]


def details(rows: list[dict]) -> list[dict]:
    return [{"list_name": r["book_name"], "list_id": r["book_id"],
             "add_date": r["added_at"].strftime("%Y-%m-%d %H:%M:%S"), "source": r["source"]} for r in rows]


def bulk_info(emails: list[str], rows: list[dict], types: dict[int, dict]) -> dict:
    out: dict[str, list] = {}
    for r in rows:
        out.setdefault(r["email"], []).append(
            {"book_id": r["book_id"], "status": r["status"],
             "variables": typed_variables(r["variables"] or {}, types.get(r["book_id"], {}))})
    return {email: out[email] for email in emails if email in out}


def statistics(stats: dict) -> dict:
    return {"statistic": {"sent": stats["sent"], "open": stats["open"], "link": stats["link"]},
            "blacklist": stats["blacklist"],
            "addressbooks": [{"id": b["id"], "address_book_name": b["name"]} for b in stats["books"]]}


def bulk_statistics(stats: dict[str, dict]) -> dict:
    # "adressbooks" is SendPulse's spelling in this answer (document 004); clients read it so.
    return {email: {"sent": s["sent"], "open": s["open"], "link": s["link"],
                    "adressbooks": [{"id": b["id"], "name": b["name"]} for b in s["books"]],
                    "blacklist": s["blacklist"]} for email, s in stats.items()}

"""CSV imports of contacts: a file uploaded, its columns mapped (which is the address, the phone, each
variable's name), then added by the worker a batch of rows a transaction (the byte offset after the
last row added is the checkpoint: a killed worker's batch rolls back and the next one starts there).

The file is read as UTF-8 (a byte-order mark dropped, a wrong byte replaced); its delimiter sniffed
from the start (comma, semicolon, tab or bar); the first row is the header. A row without a valid
address is skipped and counted. A cell written with a leading ``'`` before what a spreadsheet would
run as a formula (``escaped``: the lists' CSV export writes them so) is read without it.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from datetime import timedelta

from sqlalchemy import Connection

from pulsebox import addresses
from pulsebox.addressbooks import repository, service
from pulsebox.errors import ApiError
from pulsebox.models import utcnow
from pulsebox.pump import wake_after_commit

BATCH = 1000  # rows a transaction
LEASE = timedelta(minutes=5)
MAX_COLUMNS = 250  # a list's export (4 columns, then one a variable) of up to 246 variables imports back
EMAIL, PHONE, SKIP = "email", "phone", ""

EXPORTED = ("email", "phone", "status", "added")  # the first columns of a list's CSV export, then its variables
FORMULA = frozenset("=+-@\t\r")  # first characters a spreadsheet may run as a formula (OWASP: CSV injection)


def escaped(cell: str) -> str:
    """A cell as a CSV file of contacts holds it: one a spreadsheet could run as a formula (its first
    character after any ``'`` is in ``FORMULA``) gets a leading ``'``; ``unescaped`` takes exactly that
    one off, so every value comes back as it was."""
    first = cell[:1]
    return "'" + cell if first in FORMULA or (first == "'" and cell.lstrip("'")[:1] in FORMULA) else cell


def unescaped(cell: str) -> str:
    return cell[1:] if cell[:1] == "'" and cell.lstrip("'")[:1] in FORMULA else cell


def _lines(data: bytes, offset: int, consumed: list[int]) -> Iterator[str]:
    """The file's lines from ``offset``; ``consumed[0]`` is the offset after the last line handed
    out (csv.reader asks for a line only when a row needs it: after a row, it is the row's end)."""
    while offset < len(data):
        end = data.find(b"\n", offset)
        end = len(data) if end < 0 else end + 1
        consumed[0] = end
        yield data[offset:end].decode("utf-8", "replace")
        offset = end


def rows_from(data: bytes, offset: int, delimiter: str, limit: int) -> tuple[list[list[str]], int]:
    """Up to ``limit`` rows from ``offset``, and the offset after the last of them."""
    consumed = [offset]
    rows = list(itertools.islice(csv.reader(_lines(data, offset, consumed), delimiter=delimiter), limit))
    return rows, consumed[0]


def start(conn: Connection, account_id: int, book_id: int, filename: str, data: bytes) -> int:
    """Store an uploaded file; its header read and its rows counted. Refused: a file with no
    header, more than ``MAX_COLUMNS`` columns, or no data row."""
    service.book(conn, account_id, book_id)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    exported = data.startswith(",".join(EXPORTED).encode())  # a list's export: read as it was written
    sample = data[:4096].decode("utf-8", "replace")
    try:
        delimiter = "," if exported else csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    [header], offset = rows_from(data, 0, delimiter, 1) or ([[]], 0)
    if not header or len(header) > MAX_COLUMNS:
        raise ApiError(8, f"the file needs a header row of 1 to {MAX_COLUMNS} columns")
    total = sum(1 for row in csv.reader(io.StringIO(data[offset:].decode("utf-8", "replace")), delimiter=delimiter)
                if any(cell.strip() for cell in row))
    if not total:
        raise ApiError(8, "the file has no rows after its header")
    guess = [EMAIL if "mail" in h.lower() else PHONE if "phone" in h.lower() else h.strip()[:255] for h in header]
    if exported and tuple(header[:4]) == EXPORTED:  # its status and date added are the old list's: skipped
        guess = [EMAIL, PHONE, SKIP, SKIP] + [unescaped(h)[:255] for h in header[4:]]
    if EMAIL not in guess:  # no column named so: the first whose first row holds an address
        first, _ = rows_from(data, offset, delimiter, 1)
        for i, cell in enumerate(first[0] if first else []):
            if "@" in cell:
                guess[i] = EMAIL
                break
    return repository.insert_import(conn, {
        "account_id": account_id, "book_id": book_id, "filename": filename[:255], "data": data,
        "delimiter": delimiter, "columns": [h[:255] for h in header], "mapping": guess, "status": "uploaded",
        "cursor": offset, "total": total, "done": 0, "added": 0, "skipped": 0, "created_at": utcnow()})


def get(conn: Connection, account_id: int, import_id: int) -> dict:
    found = repository.import_of(conn, account_id, import_id)
    if found is None:
        raise ApiError(404, "Import not found", status=404)
    return dict(found)


def map_columns(conn: Connection, account_id: int, import_id: int, mapping: list[str]) -> None:
    """Name each column (``email``, ``phone``, a variable, or "" to skip) and queue the import."""
    found = get(conn, account_id, import_id)
    if found["status"] != "uploaded":
        raise ApiError(8, "this import has started already")
    if len(mapping) != len(found["columns"]) or mapping.count(EMAIL) != 1:
        raise ApiError(8, "choose exactly one column of addresses")
    names = [m for m in mapping if m not in (EMAIL, PHONE, SKIP)]
    if any(len(m) > 255 for m in names) or len(set(names)) != len(names) or mapping.count(PHONE) > 1:
        raise ApiError(8, "each variable needs its own name (at most 255 characters), and one phone column at most")
    repository.set_import(conn, import_id, mapping=mapping, status="queued")
    wake_after_commit(conn)


def any_due(conn: Connection) -> bool:
    return repository.any_import_due(conn, utcnow())


def import_batch(conn: Connection) -> int:
    """The next batch of the oldest queued import, added in this transaction with its checkpoint."""
    found = repository.lock_import(conn, utcnow())
    if found is None:
        return 0
    rows, end = rows_from(found["data"], found["cursor"], found["delimiter"], BATCH)
    mapping = found["mapping"]
    contacts: dict[str, tuple[str, dict, str | None]] = {}
    skipped = 0
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        values = dict(zip(mapping, map(unescaped, row), strict=False))
        address = addresses.normalize(values.get(EMAIL, ""))
        if address is None:
            skipped += 1
            continue
        variables = {name: value for name, value in values.items() if name not in (EMAIL, PHONE, SKIP) and value != ""}
        contacts[address] = (address, variables, values.get(PHONE) or None)
    try:
        added = service.add_contacts(conn, found["account_id"], found["book_id"], list(contacts.values())) \
            if contacts else 0
    except ApiError as refused:  # the plan's subscriber cap, say: the import stops with the reason
        repository.set_import(conn, found["id"], status="failed", error=refused.message[:500], locked_until=None)
        return 1
    read = sum(1 for row in rows if any(cell.strip() for cell in row))
    finished = len(rows) < BATCH or end >= len(found["data"])
    repository.set_import(conn, found["id"], cursor=end, done=found["done"] + read, added=found["added"] + added,
                          skipped=found["skipped"] + skipped, status="done" if finished else "queued",
                          locked_until=None)
    return max(1, len(rows))

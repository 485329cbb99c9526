"""Where the public page puts a checked submission until the processor stores it.

Embedded (SQLite) the intake is a file of its own under var/: SQLite has one writer per
database, so a visitor's submission must not queue behind the processor's transactions in
the main database; appending to another file takes a fraction of a millisecond. At scale
(PostgreSQL, several machines) the intake is a table of the main database, shared by every
machine.

Either way an entry leaves the intake only after its submission was committed in the main
database, and a submission is created once per entry (a unique intake key), so a crash
between the two loses nothing and duplicates nothing.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from liaison.core.localdb import LocalSQLite


class FileIntake:
    """A SQLite file under var/ (embedded mode)."""

    name = "file"

    def __init__(self, path: str) -> None:
        self.db = LocalSQLite(path, "CREATE TABLE IF NOT EXISTS intake (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                                    "payload TEXT NOT NULL)")

    def _conn(self):
        return self.db.conn()

    def put(self, payload: dict[str, Any]) -> int:
        return self._conn().execute("INSERT INTO intake (payload) VALUES (?)", (json.dumps(payload),)).lastrowid

    def take(self, limit: int) -> list[tuple[int, dict[str, Any]]]:
        rows = self._conn().execute("SELECT id, payload FROM intake ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [(pk, json.loads(payload)) for pk, payload in rows]

    def remove(self, ids: list[int]) -> None:
        if ids:
            self._conn().execute(f"DELETE FROM intake WHERE id IN ({', '.join('?' * len(ids))})", ids)

    def count(self) -> int:
        return self._conn().execute("SELECT COUNT(*) FROM intake").fetchone()[0]


class TableIntake:
    """The ``webforms.Intake`` table of the main database (PostgreSQL: shared by every machine)."""

    name = "db"

    def put(self, payload: dict[str, Any]) -> int:
        from liaison.webforms.models import Intake

        return Intake.objects.create(payload=payload, created_at=timezone.now()).pk

    def take(self, limit: int) -> list[tuple[int, dict[str, Any]]]:
        from liaison.webforms.models import Intake

        # SKIP LOCKED: two processors (Celery at scale) share the work instead of waiting.
        with transaction.atomic():
            return list(Intake.objects.select_for_update(skip_locked=True).order_by("id")
                        .values_list("id", "payload")[:limit])

    def remove(self, ids: list[int]) -> None:
        from liaison.webforms.models import Intake

        if ids:
            Intake.objects.filter(pk__in=ids).delete()

    def count(self) -> int:
        from liaison.webforms.models import Intake

        return Intake.objects.count()


_stores: dict[tuple, Any] = {}
_lock = threading.Lock()


def store():
    """The intake of this installation: a file next to an SQLite database, else a table."""
    key = (connection.vendor, str(settings.VAR_DIR))
    with _lock:
        found = _stores.get(key)
        if found is None:
            found = FileIntake(str(settings.VAR_DIR / "form-intake.sqlite3")) if connection.vendor == "sqlite" \
                else TableIntake()
            _stores[key] = found
        return found


def reset() -> None:
    """Forget the stores (tests switch var directories)."""
    with _lock:
        _stores.clear()

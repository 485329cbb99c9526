"""An audit of outbound calls: method, path template, status, latency.

The audit never records headers, query strings or bodies, so it cannot leak secrets.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone


@dataclass(frozen=True)
class CallRecord:
    method: str
    path: str  # the template, e.g. /G2W/rest/v2/organizers/{organizerKey}/webinars
    status: int | None  # None: no response (timeout, connection error)
    latency_ms: float
    at: datetime = field(default_factory=timezone.now)
    error: str = ""
    attempt: int = 1


class CallAudit:
    """Collects call records; ``on_record`` lets a sync run count calls as they happen."""

    def __init__(self, on_record: Callable[[CallRecord], None] | None = None):
        self._records: list[CallRecord] = []
        self._lock = threading.Lock()
        self.on_record = on_record
        self.total = 0

    def record(self, record: CallRecord) -> None:
        with self._lock:
            self._records.append(record)
            self.total += 1
        if self.on_record:
            self.on_record(record)

    @property
    def records(self) -> list[CallRecord]:
        with self._lock:
            return list(self._records)

    def drain(self) -> list[CallRecord]:
        """Take the records collected so far (to store them in bulk)."""
        with self._lock:
            records, self._records = self._records, []
        return records

    @staticmethod
    def summarize(records: list[CallRecord]) -> list[dict]:
        groups: dict[tuple[str, str], dict] = {}
        for rec in records:
            entry = groups.setdefault(
                (rec.method, rec.path),
                {"method": rec.method, "path": rec.path, "calls": 0, "errors": 0, "statuses": {}, "total_ms": 0.0,
                 "max_ms": 0.0},
            )
            entry["calls"] += 1
            status = str(rec.status) if rec.status is not None else "none"
            entry["statuses"][status] = entry["statuses"].get(status, 0) + 1
            if rec.status is None or rec.status >= 400:
                entry["errors"] += 1
            entry["total_ms"] += rec.latency_ms
            entry["max_ms"] = max(entry["max_ms"], rec.latency_ms)
        for entry in groups.values():
            entry["avg_ms"] = round(entry["total_ms"] / entry["calls"], 1)
            entry["total_ms"] = round(entry["total_ms"], 1)
            entry["max_ms"] = round(entry["max_ms"], 1)
        return sorted(groups.values(), key=lambda e: -e["calls"])

    def summary(self) -> list[dict]:
        return self.summarize(self.records)

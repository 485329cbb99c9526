"""Small SQLite files of Liaison's own under var/, beside (not inside) Django's database.

Used where a write must not wait for the main database's single writer: the per-address
hit counters and the forms' intake. WAL mode, a connection per thread, autocommit.
"""

from __future__ import annotations

import sqlite3
import threading


class LocalSQLite:
    def __init__(self, path: str, schema: str) -> None:
        self.path = path
        self.schema = schema
        self.local = threading.local()

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(self.schema)
            self.local.conn = conn
        return conn

"""Set-based writes for large batches: one ``INSERT ... ON CONFLICT`` run with ``executemany``.

Django's ``bulk_create(update_conflicts=True)`` builds and prepares every value through
the ORM compiler, which costs more than the database work itself for wide batches. Here
the SQL is built once and values go straight to the driver; only the columns that need
it (JSON, datetimes) are adapted. Works on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from django.db import connections, models


def _adapter(field: models.Field, connection) -> Callable | None:
    if isinstance(field, models.JSONField):
        adapt_json = connection.ops.adapt_json_value
        return lambda value: None if value is None else adapt_json(value, field.encoder)
    if isinstance(field, models.DateTimeField):
        adapt = connection.ops.adapt_datetimefield_value
        last: list = [None, None]  # a batch usually repeats one "now": adapt it once

        def adapt_datetime(value):
            if not isinstance(value, datetime):
                return value
            if value is not last[0]:
                last[0], last[1] = value, adapt(value)
            return last[1]

        return adapt_datetime
    if isinstance(field, models.DateField):
        adapt = connection.ops.adapt_datefield_value
        return lambda value: adapt(value)
    return None


def _executemany(connection, sql: str, fields: list[models.Field], rows: Iterable[Sequence], chunk: int) -> None:
    """Run ``sql`` for every row, ``chunk`` rows per ``executemany``, adapting the values of
    ``fields`` (in row order) that need it."""
    adapters = [(i, a) for i, a in ((i, _adapter(f, connection)) for i, f in enumerate(fields)) if a]
    batch: list[Sequence] = []
    with connection.cursor() as cursor:
        for row in rows:
            if adapters:
                row = list(row)
                for index, adapt in adapters:
                    row[index] = adapt(row[index])
            batch.append(row)
            if len(batch) >= chunk:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)


def upsert_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Iterable[Sequence],
    *,
    conflict: Sequence[str],
    update: Sequence[str] = (),
    using: str = "default",
    chunk: int = 5000,
) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``, which are field names); on a
    conflict on ``conflict`` update the ``update`` columns, or do nothing if there are none.

    Call it inside the caller's transaction: it does not commit.
    """
    connection = connections[using]
    meta = model._meta
    fields = [meta.get_field(name) for name in columns]
    quote = connection.ops.quote_name
    column_sql = ", ".join(quote(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    conflict_sql = ", ".join(quote(meta.get_field(name).column) for name in conflict)
    if update:
        sets = ", ".join(f"{quote(meta.get_field(n).column)} = excluded.{quote(meta.get_field(n).column)}"
                         for n in update)
        action = f"DO UPDATE SET {sets}"
    else:
        action = "DO NOTHING"
    sql = (f"INSERT INTO {quote(meta.db_table)} ({column_sql}) VALUES ({placeholders}) "
           f"ON CONFLICT ({conflict_sql}) {action}")
    _executemany(connection, sql, fields, rows, chunk)


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence], *,
                using: str = "default", chunk: int = 5000) -> None:
    """A plain ``INSERT`` of ``rows`` (tuples in the order of ``columns``), one ``executemany``
    per chunk: ``bulk_create`` without building a model instance per row (queues, logs)."""
    connection = connections[using]
    meta = model._meta
    fields = [meta.get_field(name) for name in columns]
    quote = connection.ops.quote_name
    sql = (f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    _executemany(connection, sql, fields, rows, chunk)


def update_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Iterable[Sequence],
    *,
    key: str = "id",
    using: str = "default",
    chunk: int = 5000,
) -> None:
    """``UPDATE ... SET <columns> WHERE <key> = ...`` for each row (values in the order of
    ``columns``, then the key), in one ``executemany`` per chunk: the set-based twin of
    ``bulk_update`` without its per-row CASE expressions. Call it inside the caller's
    transaction (or in autocommit, one commit per chunk).
    """
    connection = connections[using]
    meta = model._meta
    fields = [meta.get_field(name) for name in columns]
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {sets} WHERE {quote(meta.get_field(key).column)} = %s"
    _executemany(connection, sql, fields, rows, chunk)


def _reader(field: models.Field, connection) -> Callable | None:
    """Convert a raw column value as the ORM would, for the types that need it."""
    if isinstance(field, models.JSONField):
        return lambda value: json.loads(value) if isinstance(value, (str, bytes)) else value
    if isinstance(field, models.DateTimeField) and connection.vendor == "sqlite":
        # Django stores datetimes in SQLite as naive UTC text.
        return lambda value: datetime.fromisoformat(value).replace(tzinfo=UTC) if isinstance(value, str) else value
    return None


def select_rows(
    model: type[models.Model],
    columns: Sequence[str],
    match: str,
    values: Sequence,
    *,
    using: str = "default",
    chunk: int = 1000,
) -> list[tuple]:
    """Rows (tuples in the order of ``columns``) whose ``match`` column is in ``values``.

    The raw-SQL twin of ``filter(match__in=values).values_list(*columns)`` for large
    batches, without the ORM's per-query compilation cost.
    """
    connection = connections[using]
    meta = model._meta
    fields = [meta.get_field(name) for name in columns]
    quote = connection.ops.quote_name
    column_sql = ", ".join(quote(f.column) for f in fields)
    match_column = quote(meta.get_field(match).column)
    readers = [(i, r) for i, r in ((i, _reader(f, connection)) for i, f in enumerate(fields)) if r]
    found: list[tuple] = []
    with connection.cursor() as cursor:
        for start in range(0, len(values), chunk):
            part = list(values[start:start + chunk])
            cursor.execute(f"SELECT {column_sql} FROM {quote(meta.db_table)} WHERE {match_column} IN "
                           f"({', '.join(['%s'] * len(part))})", part)
            for row in cursor.fetchall():
                if readers:
                    row = list(row)
                    for index, read in readers:
                        row[index] = read(row[index])
                    row = tuple(row)
                found.append(row)
    return found

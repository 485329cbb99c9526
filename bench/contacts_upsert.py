"""Benchmark: upsert 200,000 contacts (half new, half changed) through contacts.services.

For each database (SQLite, PostgreSQL) it measures, on the same starting state:
- the bound: the same rows written by the driver's raw ``executemany`` of an
  ``INSERT ... ON CONFLICT (email_key) DO UPDATE``, in the same batches;
- Liaison: ``upsert_contacts`` on the same rows (validation, coercion, per-field
  policies, counts and change detection included).

It prints rows per second, the ratio to the bound, peak memory (max RSS of the process)
and the targets: within 3x of the bound, peak memory under 300 MB.

    .venv/bin/python bench/contacts_upsert.py [--rows 200000] [--batch 10000] [--db sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 3.0
TARGET_MB = 300


def rows_for(start: int, count: int, variant: str) -> list[dict]:
    return [{"email": f"Person{n}@Example.com", "first_name": f"First{n}{variant}", "last_name": f"Last{n}",
             "phone": f"+33 1 {n % 100:02d} {n % 97:02d} {n % 89:02d} {n % 83:02d}", "city": f"City {n % 500}",
             "country": "France", "custom": {"tier": "gold" if n % 3 else "silver", "score": n % 1000}}
            for n in range(start, start + count)]


def timed_rows(start: int, batch: int, total: int) -> list[dict]:
    """One batch of the timed rows: the existing half changed, then as many new ones.

    Built batch by batch, as an import streams its file: the benchmark's own input must not
    weigh in the peak memory it reports.
    """
    half = total // 2
    end = min(start + batch, total)
    rows = rows_for(start, max(0, min(end, half) - start), "-changed") if start < half else []
    return rows + rows_for(max(start, half), end - max(start, half), "")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(db: str, mode: str, total: int, batch: int) -> dict:
    """Run in a fresh process: set up the database, pre-load half, time one mode."""
    from common import setup_django

    setup_django(db, "upsert")
    from django.db import connection, transaction

    from liaison.contacts.models import Contact
    from liaison.contacts.services import save_field, upsert_contacts

    save_field({"alias": "tier", "label": "Tier", "type": "select", "choices": "gold\nsilver"})
    save_field({"alias": "score", "label": "Score", "type": "number"})
    half = total // 2
    for start in range(0, half, batch):  # the existing half (untimed)
        upsert_contacts(rows_for(start, min(batch, half - start), ""))
    started = time.perf_counter()
    if mode == "bound":
        # Exactly the columns and conflict clause Liaison writes, values built in a plain loop.
        from liaison.contacts.services import _INSERTED, _UPDATED

        quote = connection.ops.quote_name
        column_names = [Contact._meta.get_field(name).column for name in _INSERTED]
        updates = ", ".join(f"{quote(Contact._meta.get_field(n).column)} = excluded."
                            f"{quote(Contact._meta.get_field(n).column)}" for n in _UPDATED)
        placeholder = "?" if db == "sqlite" else "%s"
        sql = (f"INSERT INTO contacts_contact ({', '.join(map(quote, column_names))}) "
               f"VALUES ({', '.join([placeholder] * len(column_names))}) ON CONFLICT (email_key) DO UPDATE SET {updates}")
        from django.utils import timezone

        now = timezone.now()
        stamp = now.replace(tzinfo=None).isoformat(" ") if db == "sqlite" else now
        if db == "postgres":
            from psycopg.types.json import Jsonb
        empty = {"first_name": "", "last_name": "", "position": "", "phone": "", "mobile": "", "address1": "",
                 "address2": "", "city": "", "state": "", "postcode": "", "country": "", "dnc_reason": ""}
        raw = connection.connection if connection.connection else (connection.ensure_connection()
                                                                    or connection.connection)
        for start in range(0, total, batch):
            values = []
            for r in timed_rows(start, batch, total):
                record = {**empty, **r, "email_key": r["email"].lower(), "points": 0, "do_not_contact": False,
                          "dnc_at": None, "company_id": None, "owner_id": None, "updated_at": stamp,
                          "created_at": stamp,
                          "custom": json.dumps(r["custom"]) if db == "sqlite" else Jsonb(r["custom"])}
                values.append(tuple(record[name] for name in _INSERTED))
            with transaction.atomic():
                raw.cursor().executemany(sql, values)
        created = updated = None
    else:
        created = updated = 0
        for start in range(0, total, batch):
            result = upsert_contacts(timed_rows(start, batch, total))
            created += result.created
            updated += result.updated
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM contacts_contact")
        count = cursor.fetchone()[0]
    return {"db": db, "mode": mode, "seconds": elapsed, "rows": total, "count": count, "created": created,
            "updated": updated, "peak_mb": peak_mb()}


def run_child(db: str, mode: str, total: int, batch: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", db, mode, "--rows", str(total), "--batch", str(batch)],
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"{db}/{mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--child", nargs=2, metavar=("DB", "MODE"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.rows, args.batch)))
        return
    print(f"Upsert of {args.rows:,} contacts (half new, half changed), batches of {args.batch:,}; "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    ok = True
    for db in (["sqlite", "postgres"] if args.db == "both" else [args.db]):
        bound = run_child(db, "bound", args.rows, args.batch)
        ours = run_child(db, "liaison", args.rows, args.batch)
        ratio = ours["seconds"] / bound["seconds"]
        ok &= ratio <= TARGET_RATIO and ours["peak_mb"] < TARGET_MB and ours["count"] == args.rows
        print(f"\n{db}:")
        print(f"  bound (raw executemany):  {bound['seconds']:7.2f} s  {args.rows / bound['seconds']:>9,.0f} rows/s")
        print(f"  liaison upsert_contacts:  {ours['seconds']:7.2f} s  {args.rows / ours['seconds']:>9,.0f} rows/s  "
              f"(created {ours['created']:,}, updated {ours['updated']:,}; {ours['count']:,} contacts stored)")
        print(f"  ratio to the bound:       {ratio:5.2f}x   (target <= {TARGET_RATIO:.1f}x)")
        print(f"  peak memory (max RSS):    {ours['peak_mb']:5.0f} MB  (target < {TARGET_MB} MB; "
              f"bound process {bound['peak_mb']:.0f} MB)")
    print("\nAll targets met." if ok else "\nSome targets were missed.")


if __name__ == "__main__":
    main()

"""Segments benchmark: full rebuilds against a hand-written bound, and re-evaluating changed contacts.

Data: 1,000,000 contacts with custom fields (in 10,000 companies) and 3,000,000 timeline
entries, generated once per database and kept for later runs (``--fresh`` regenerates).

Measured on SQLite and on PostgreSQL (each in its own process, with Liaison's settings):

- rebuild of a segment of three filters (a custom field, points, and "submitted a form in
  the last 30 days" on the timeline), from an empty membership and again with nothing
  changed, through ``segments.services.rebuild_segment``;
- the bound: the same membership computed by one hand-written ``INSERT ... SELECT`` on the
  same database, into the same table. Target: the rebuild within 1.5x of the bound;
- re-evaluating one changed contact against 50 segments (``segments.services.reevaluate``),
  percentiles over many contacts. Target: p95 under 20 ms.

    .venv/bin/python bench/segments.py                 # both databases
    .venv/bin/python bench/segments.py --db sqlite     # one
    .venv/bin/python bench/segments.py --contacts 100000 --activities 300000   # smaller

PostgreSQL: ``LIAISON_BENCH_POSTGRES_URL`` (default postgresql://postgres@127.0.0.1:5432/liaison_bench_segments).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INDUSTRIES = ["software", "finance", "retail", "health", "energy", "media", "education", "transport", "food", "legal"]
KINDS = ["webforms.submitted", "contact.note", "contact.imported", "segments.added", "contact.points",
         "webforms.action"]
CITIES = [f"City {i}" for i in range(60)]
FIRST = ["Ann", "Bob", "Cid", "Dee", "Eve", "Fay", "Gus", "Hal", "Ida", "Joe", "Kim", "Lou", "Max", "Ned"]
LAST = ["Lee", "Khan", "Ng", "Diaz", "Berg", "Rossi", "Dubois", "Smith", "Olsen", "Novak", "Silva", "Kato"]
SEGMENT = {"match": "all", "rules": [
    {"filter": "contact.custom.industry", "operator": "in", "value": ["software", "finance"]},
    {"filter": "contact.points", "operator": "gt", "value": 50},
    {"filter": "activity.kind", "operator": "in_last_days", "value": {"values": ["webforms.submitted"], "days": 30}},
]}


def load() -> str:
    try:
        return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "load average unknown"


# -- the data ------------------------------------------------------------------------------------

def generate(vendor: str, contacts: int, activities: int) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from liaison.contacts.models import Activity, Company, Contact, Field

    rng = random.Random(42)
    now = timezone.now()
    print(f"  generating {contacts:,} contacts and {activities:,} timeline entries …", flush=True)
    started = time.perf_counter()
    Field.objects.get_or_create(object="contact", alias="industry", defaults={
        "label": "Industry", "type": "select", "choices": [{"value": i, "label": i.title()} for i in INDUSTRIES]})
    Field.objects.get_or_create(object="contact", alias="score", defaults={"label": "Score", "type": "number"})
    Field.objects.get_or_create(object="contact", alias="signup", defaults={"label": "Signed up", "type": "date"})
    Field.objects.get_or_create(object="contact", alias="tags", defaults={
        "label": "Tags", "type": "multiselect", "choices": [{"value": t, "label": t} for t in "abcdef"]})
    companies = min(10_000, max(1, contacts // 100))
    Company.objects.bulk_create([Company(name=f"Company {i}", name_key=f"company {i}", city=rng.choice(CITIES),
                                         employees=rng.randint(1, 5000), industry=rng.choice(INDUSTRIES))
                                 for i in range(companies)], batch_size=5000)
    first_company = Company.objects.order_by("pk").values_list("pk", flat=True).first()

    def contact_rows():
        for i in range(contacts):
            created = now - timedelta(days=rng.randint(0, 1000), seconds=rng.randint(0, 86400))
            custom = {"industry": rng.choice(INDUSTRIES), "score": round(rng.random() * 100, 1),
                      "signup": (created.date()).isoformat(), "tags": rng.sample("abcdef", rng.randint(0, 3))}
            email = f"person{i}@example{i % 997}.com"
            yield (email, email, rng.choice(FIRST), rng.choice(LAST), "", "", "", "", "", rng.choice(CITIES), "",
                   f"{rng.randint(10000, 99999)}", "FR", first_company + rng.randrange(companies), None,
                   rng.randint(0, 100), rng.random() < 0.03, "", None, json.dumps(custom), created, created, None)

    columns = ("email", "email_key", "first_name", "last_name", "position", "phone", "mobile", "address1",
               "address2", "city", "state", "postcode", "country", "company_id", "owner_id", "points",
               "do_not_contact", "dnc_reason", "dnc_at", "custom", "created_at", "updated_at", "last_activity_at")
    _bulk(vendor, Contact._meta.db_table, columns, contact_rows(), contacts)
    first_contact, last_contact = Contact.objects.order_by("pk").values_list("pk", flat=True)[:1][0], \
        Contact.objects.order_by("-pk").values_list("pk", flat=True)[:1][0]

    def activity_rows():
        for i in range(activities):
            contact_id = rng.randint(first_contact, last_contact)
            at = now - timedelta(days=rng.randint(0, 365), seconds=rng.randint(0, 86400))
            kind = rng.choice(KINDS)
            yield contact_id, kind, at, kind, "{}", "bench", f"bench:{i}", at

    _bulk(vendor, Activity._meta.db_table, ("contact_id", "kind", "occurred_at", "title", "data", "source",
                                            "dedup_key", "created_at"), activity_rows(), activities)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Contact._meta.db_table} SET last_activity_at = (SELECT MAX(occurred_at) FROM "
                       f"{Activity._meta.db_table} a WHERE a.contact_id = {Contact._meta.db_table}.id)")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"  generated in {time.perf_counter() - started:.0f} s", flush=True)


def _bulk(vendor: str, table: str, columns: tuple[str, ...], rows, total: int) -> None:
    from django.db import connection, transaction

    chunk = 50_000
    batch = []
    done = 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            if vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        done += 1
                        if done % 500_000 == 0:
                            print(f"    {table}: {done:,} / {total:,}", flush=True)
                return
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
            for row in rows:
                batch.append(row)
                if len(batch) >= chunk:
                    cursor.executemany(sql, batch)
                    done += len(batch)
                    batch.clear()
                    if done % 500_000 == 0:
                        print(f"    {table}: {done:,} / {total:,}", flush=True)
            if batch:
                cursor.executemany(sql, batch)


# -- the measurements -------------------------------------------------------------------------------

def bound_sql(vendor: str, segment_id: int) -> tuple[str, list]:
    from django.utils import timezone

    since = timezone.now() - timedelta(days=30)
    industry = "c.custom ->> 'industry'" if vendor == "postgresql" else "c.custom ->> '$.industry'"
    sql = (f"INSERT INTO segments_membership (segment_id, contact_id, source, added_at) "
           f"SELECT %s, c.id, 'filter', %s FROM contacts_contact c "
           f"WHERE {industry} IN ('software', 'finance') AND c.points > 50 "
           f"AND EXISTS (SELECT 1 FROM contacts_activity a WHERE a.contact_id = c.id "
           f"AND a.kind = 'webforms.submitted' AND a.occurred_at >= %s)")
    return sql, [segment_id, timezone.now(), since]


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def measure(vendor: str, args) -> dict:
    from django.db import connection, transaction

    from liaison.contacts.models import Contact
    from liaison.segments import services
    from liaison.segments.models import Membership, Segment

    def clear(segment_id: int) -> None:
        with transaction.atomic():
            Membership.objects.filter(segment_id=segment_id).delete()

    segment, _ = Segment.objects.update_or_create(name="Bench: three filters", defaults={"filters": SEGMENT})
    bound_segment, _ = Segment.objects.get_or_create(name="Bench: bound")
    sql, params = bound_sql(vendor, bound_segment.pk)

    def run_bound():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)

    bounds, fresh, steady = [], [], []
    clear(segment.pk)
    clear(bound_segment.pk)
    timed(run_bound)  # warm the caches alike for both
    clear(bound_segment.pk)
    for _ in range(args.repeat):
        bounds.append(timed(run_bound))
        expected = Membership.objects.filter(segment=bound_segment).count()
        clear(bound_segment.pk)
        clear(segment.pk)
        fresh.append(timed(lambda: services.rebuild_segment(segment)))
        steady.append(timed(lambda: services.rebuild_segment(segment)))
    members = Membership.objects.filter(segment=segment).count()
    assert members == expected, f"rebuild found {members} members, the bound {expected}"

    # 50 segments of varied filters; re-evaluate one changed contact at a time.
    rng = random.Random(7)
    templates = [
        lambda n: {"filter": "contact.points", "operator": "gt", "value": n % 100},
        lambda n: {"filter": "contact.custom.industry", "operator": "in", "value": [INDUSTRIES[n % 10]]},
        lambda n: {"filter": "contact.city", "operator": "eq", "value": CITIES[n % 60]},
        lambda n: {"filter": "activity.kind", "operator": "in_last_days",
                   "value": {"values": [KINDS[n % 6]], "days": 7 + n}},
        lambda n: {"filter": "company.employees", "operator": "gt", "value": 100 * n},
        lambda n: {"filter": "contact.custom.tags", "operator": "in", "value": ["abcdef"[n % 6]]},
        lambda n: {"filter": "contact.created_at", "operator": "last_days", "value": 30 + n},
        lambda n: {"filter": "contact.custom.score", "operator": "between", "value": [n, n + 20]},
    ]
    Segment.objects.filter(name__startswith="Bench: reeval").delete()
    many = [Segment.objects.create(name=f"Bench: reeval {n}", filters={"match": "all" if n % 2 else "any", "rules": [
        templates[n % len(templates)](n), templates[(n + 3) % len(templates)](n)]}) for n in range(50)]
    low, high = Contact.objects.order_by("pk").values_list("pk", flat=True)[:1][0], \
        Contact.objects.order_by("-pk").values_list("pk", flat=True)[:1][0]
    chosen = [rng.randint(low, high) for _ in range(args.samples)]
    services.reevaluate(chosen)  # their memberships are up to date before they change
    samples = []
    for contact_id in chosen:
        Contact.objects.filter(pk=contact_id).update(points=rng.randint(0, 100))
        samples.append(timed(lambda cid=contact_id: services.reevaluate([cid])))
    ids = [rng.randint(low, high) for _ in range(500)]
    batch = timed(lambda: services.reevaluate(ids))
    Segment.objects.filter(pk__in=[s.pk for s in many]).delete()
    samples.sort()
    return {
        "vendor": vendor, "contacts": Contact.objects.count(), "members": members,
        "bound_s": statistics.median(bounds), "rebuild_fresh_s": statistics.median(fresh),
        "rebuild_steady_s": statistics.median(steady),
        "reeval_p50_ms": 1000 * samples[len(samples) // 2], "reeval_p95_ms": 1000 * samples[int(len(samples) * .95)],
        "reeval_p99_ms": 1000 * samples[int(len(samples) * .99)],
        "reeval_batch500_per_contact_ms": 1000 * batch / len(ids), "load": load(),
    }


def child(args) -> None:
    """Run one database's benchmark with Liaison's settings (in its own process)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from liaison.contacts.models import Activity, Contact

    vendor = connection.vendor
    call_command("migrate", verbosity=0, interactive=False)
    if args.fresh or Contact.objects.count() != args.contacts or Activity.objects.count() != args.activities:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM segments_membership")
            cursor.execute("DELETE FROM contacts_activity")
            cursor.execute("DELETE FROM contacts_contact")
            cursor.execute("DELETE FROM contacts_company")
        generate(vendor, args.contacts, args.activities)
    print("RESULT " + json.dumps(measure(vendor, args)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--activities", type=int, default=3_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--samples", type=int, default=300, help="contacts re-evaluated one at a time")
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "liaison-bench-segments"))
    parser.add_argument("--fresh", action="store_true", help="regenerate the data")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    results = []
    for db in (["sqlite", "postgres"] if args.db == "both" else [args.db]):
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="liaison.settings", LIAISON_LOG_LEVEL="WARNING",
                   LIAISON_VAR_DIR=str(Path(args.data_dir) / db), LIAISON_TASK_BACKEND="immediate",
                   PYTHONPATH=str(ROOT / "src"))
        if db == "postgres":
            url = os.environ.get("LIAISON_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/liaison_bench_segments")
            _create_database(url)
            env["LIAISON_DATABASE_URL"] = url
        else:
            env.pop("LIAISON_DATABASE_URL", None)
        print(f"{db}: {load()}", flush=True)
        command = [sys.executable, __file__, "--child", "--contacts", str(args.contacts), "--activities",
                   str(args.activities), "--repeat", str(args.repeat), "--samples", str(args.samples)]
        if args.fresh:
            command.append("--fresh")
        process = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True)
        for line in process.stdout.splitlines():
            if line.startswith("RESULT "):
                results.append(json.loads(line[7:]))
            else:
                print(line)
        if process.returncode:
            sys.exit(f"{db}: the benchmark failed (exit {process.returncode})")
    print()
    print(f"{'database':<11}{'contacts':>10}{'members':>9}{'bound':>9}{'rebuild':>9}{'ratio':>7}{'again':>9}"
          f"{'ratio':>7}{'reeval p50':>12}{'p95':>8}{'p99':>8}{'batch/contact':>15}")
    for r in results:
        print(f"{r['vendor']:<11}{r['contacts']:>10,}{r['members']:>9,}{r['bound_s']:>8.2f}s"
              f"{r['rebuild_fresh_s']:>8.2f}s{r['rebuild_fresh_s'] / r['bound_s']:>6.2f}x"
              f"{r['rebuild_steady_s']:>8.2f}s{r['rebuild_steady_s'] / r['bound_s']:>6.2f}x"
              f"{r['reeval_p50_ms']:>10.1f}ms{r['reeval_p95_ms']:>6.1f}ms{r['reeval_p99_ms']:>6.1f}ms"
              f"{r['reeval_batch500_per_contact_ms']:>13.2f}ms")
    print("\nTargets: rebuild within 1.5x of the bound (one hand-written INSERT ... SELECT on the same database);"
          " re-evaluating one changed contact against 50 segments under 20 ms at p95.")
    for r in results:
        print(f"{r['vendor']}: measured under {r['load']}")


MARKER = "liaison bench/segments.py"


def _create_database(url: str) -> None:
    """Create the bench's own database, or check that it is ours: the bench deletes data, so it
    refuses a database it did not create (marked by a comment)."""
    import psycopg

    from liaison.core.config import parse_database_url

    parsed = parse_database_url(url)
    with psycopg.connect(host=parsed.host or None, port=parsed.port or None, user=parsed.user or None,
                         password=parsed.password or None, dbname="postgres", autocommit=True) as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                           [parsed.name]).fetchone()
        if row is None:
            conn.execute(f'CREATE DATABASE "{parsed.name}"')
            conn.execute(f"COMMENT ON DATABASE \"{parsed.name}\" IS '{MARKER}'")
        elif row[0] != MARKER:
            sys.exit(f"The database {parsed.name!r} exists and was not created by this benchmark; it deletes "
                     f"data, so it will not touch it. Set LIAISON_BENCH_POSTGRES_URL to another database.")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    main()

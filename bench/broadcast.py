"""Benchmark: a segment e-mail broadcast to N contacts, through the real job and the exactly-once sender.

For each database, in fresh processes on the same data (N contacts in one segment, the
realistic e-mail of ``bench/email_render.py`` with 8 tracked links and 5 tokens):

- bound: the same N messages rendered in a plain loop (no database write, nothing sent);
- broadcast: ``emails.broadcasts.start`` + the ``emails.broadcast`` job run in this process:
  the audience query (keyset pages of 1,000), bulk queueing, claims, rendering, handing each
  message to the mail backend and recording each acceptance at once, timeline entries;
- crash: the same broadcast, with the process "killed" (an exception that is not an
  ``Exception``) right after the mail backend accepted message N/2; the job is then given up
  as its worker died, the broadcast is resumed from the UI's path (``broadcasts.resume``),
  and every message the backend accepted is counted: it must equal the audience exactly
  (no duplicate, nobody missing: the message in doubt reached the backend and is not resent).

Bounds (checked, printed with the figures):

- >= 500 messages/s on SQLite: a 20,000-contact newsletter out in under 40 s on one core of
  a small machine; the batch sender records each acceptance as its own commit (the price of
  exactly-once), so this is well under the render-only bound, which is printed alongside;
- peak memory < 300 MB for the whole process (setup included, printed apart): the job walks
  the audience in pages of 1,000 and sends in batches of 100, so its own structures are per
  page. Measured: 162 MB after creating 20,000 contacts, 240 MB after the broadcast; with
  tracemalloc, the Python objects allocated during a 4,000-contact broadcast peak at 2.8 MB,
  so the rest of the growth is outside Python's heap (SQLite's cache and WAL mapping, the
  allocator) rather than anything the job keeps;
- crash + resume: messages accepted by the backend == audience, duplicates == 0.

    .venv/bin/python bench/broadcast.py [--contacts 20000] [--db sqlite|postgres|both] [--backend file|memory]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter

from email_render import HTML, bound, peak_mb, prepare, run_child, setup

MIN_RATE = 500
MAX_MB = 300


class SimulatedCrash(BaseException):
    """The worker dies: nothing after this point runs (not an Exception, so nothing catches it)."""


def _count_accepted(crash_at: int | None = None) -> Counter:
    """Wrap the configured mail backend: count each address it accepted; die after ``crash_at``."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    backend = import_string(settings.EMAIL_BACKEND)
    original = backend.send_messages
    accepted: Counter = Counter()
    state = {"n": 0, "armed": crash_at is not None}

    def send_messages(self, messages):
        sent = original(self, messages)
        for message in messages[:sent]:
            accepted.update(message.to)
        state["n"] += sent
        if state["armed"] and state["n"] >= crash_at:
            state["armed"] = False
            raise SimulatedCrash
        return sent

    backend.send_messages = send_messages
    return accepted


def _segment_email(count: int):
    from liaison.emails import services
    from liaison.segments import services as segments

    email, ids = prepare(count)
    segment = segments.save_segment({"name": "Everyone"})
    segments.add_static(segment, ids)
    services.save_email({"audiences": [{"audience": "segments.segment", "values": [str(segment.pk)]}]},
                        email=email)
    return email, ids


def child(db: str, mode: str, count: int, backend: str) -> dict:
    setup(db, backend)
    from liaison.core import jobs
    from liaison.core.models import Job
    from liaison.emails import broadcasts
    from liaison.emails.models import Send

    email, ids = _segment_email(count)
    # The high-water mark of building the data (20,000 contacts upserted in one call): the
    # broadcast's own figure is the mark after it, when it is higher.
    result = {"db": db, "mode": mode, "messages": count, "setup_mb": peak_mb()}
    if mode == "bound":
        started = time.perf_counter()
        bound(email, ids)
        result.update(seconds=time.perf_counter() - started, sent=count)
    elif mode == "broadcast":
        accepted = _count_accepted()
        started = time.perf_counter()
        job = broadcasts.start(email, dispatch=False).job
        outcome = jobs.run_job(job.pk)
        result.update(seconds=time.perf_counter() - started, status=outcome.status,
                      sent=Send.objects.filter(status="sent").count(), accepted=sum(accepted.values()))
    else:  # crash, then resume
        accepted = _count_accepted(crash_at=count // 2)
        job = broadcasts.start(email, dispatch=False).job
        try:
            jobs.run_job(job.pk)
        except SimulatedCrash:
            pass
        at_crash = sum(accepted.values())
        # The worker is gone and the job gave up (what the sweep does once it stops retrying).
        Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error="The worker died.")
        resumed = broadcasts.resume(email, dispatch=False)
        outcome = jobs.run_job(resumed.job_id)
        statuses = dict(Counter(Send.objects.values_list("status", flat=True)))
        result.update(status=outcome.status, at_crash=at_crash, accepted=sum(accepted.values()),
                      distinct=len(accepted), duplicates=sum(n - 1 for n in accepted.values() if n > 1),
                      statuses=statuses, audience=len(ids))
    result["peak_mb"] = peak_mb()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--backend", choices=["file", "memory"], default="file")
    parser.add_argument("--child", nargs=2, metavar=("DB", "MODE"))
    parser.add_argument("--messages", type=int, help=argparse.SUPPRESS)  # what run_child passes
    args = parser.parse_args()
    count = args.messages or args.contacts
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], count, args.backend)))
        return
    print(f"Broadcast a segment e-mail to {count:,} contacts ({len(HTML):,} characters of HTML, 8 tracked links, "
          f"5 tokens) through the {args.backend} mail backend; {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.2f}")
    ok = True
    for db in (["sqlite", "postgres"] if args.db == "both" else [args.db]):
        render = run_child(db, "bound", count, args.backend, script=__file__)
        ours = run_child(db, "broadcast", count, args.backend, script=__file__)
        crash = run_child(db, "crash", count, args.backend, script=__file__)
        rate = ours["sent"] / ours["seconds"]
        print(f"\n{db}:")
        print(f"  bound (render in a loop, nothing stored or sent): {render['seconds']:7.2f} s  "
              f"{count / render['seconds']:>8,.0f} messages/s")
        print(f"  broadcast job (audience, queue, claim, send):     {ours['seconds']:7.2f} s  {rate:>8,.0f} messages/s"
              f"  ({ours['sent']:,} sent, {ours['accepted']:,} accepted by the backend; job {ours['status']})")
        print(f"  ratio to the bound:                               {ours['seconds'] / render['seconds']:5.2f}x")
        print(f"  peak memory (max RSS):                            {ours['peak_mb']:5.0f} MB  (bound < {MAX_MB} MB; "
              f"{ours['setup_mb']:.0f} MB already after creating the contacts and the segment)")
        print(f"  crash after {crash['at_crash']:,} accepted, then resume: {crash['accepted']:,} messages accepted "
              f"for an audience of {crash['audience']:,}, {crash['distinct']:,} distinct recipients, "
              f"{crash['duplicates']} duplicate(s); sends {crash['statuses']}; resumed job {crash['status']}")
        checks = {f">= {MIN_RATE} messages/s": db != "sqlite" or rate >= MIN_RATE,
                  f"< {MAX_MB} MB": ours["peak_mb"] < MAX_MB,
                  "crash + resume = audience exactly": crash["accepted"] == crash["distinct"] == crash["audience"]
                  and crash["duplicates"] == 0}
        for name, passed in checks.items():
            print(f"  {'PASS' if passed else 'FAIL'} {name}")
            ok = ok and passed
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

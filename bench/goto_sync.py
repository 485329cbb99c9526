"""Benchmark: a first GoToWebinar sync of 200 webinars x 1,000 registrants, then a second one.

The GoTo sandbox runs in its own process on loopback (seeded with 200 webinars of 1,000
registrants, 60 % attendance, some series and sequences; 20 ms latency on every call), so
the figures are Liaison's alone: API calls (from the SyncRun), wall time, peak memory of
the syncing process. Liaison runs on a temporary SQLite database with its embedded
settings, including the 10 calls per second budget of GoToWebinar (SQLite buckets).

The bound: the data needs at least one call per page of 200 webinars, one per page of 200
completed sessions, one per page of 200 registrants of each webinar (at least one per
webinar) and one per completed session that someone attended; at 10 calls per second
that cannot take less than (minimum calls / 10) seconds. Targets: calls <= 1.05 x the
minimum, wall time <= 1.25 x the bound, peak memory < 300 MB, and a second sync with
nothing changed <= 5 % of the first one's calls.

    .venv/bin/python bench/goto_sync.py [--webinars 200] [--registrants 1000] [--latency 0.02]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = 200
BUDGET = 10  # calls per second (GoTo's limit per API)
PAST_DAYS = FUTURE_DAYS = 365  # the integration's default windows


# -- the sandbox process ------------------------------------------------------------------

def serve_sandbox(args) -> None:
    """Seed the sandbox, print what the data needs (the minimum calls), then serve it."""
    sys.path.insert(0, str(ROOT / "src"))
    from liaison.sandbox.common import FaultSettings, make_server
    from liaison.sandbox.goto import GoToSandbox, SandboxSettings, SeedConfig

    config = SeedConfig(accounts=1, organizers=1, webinars=args.webinars, registrants_per_webinar=args.registrants,
                        attendance_ratio=0.6, series_ratio=0.1, sequence_ratio=0.1, live_webinars=1, trainings=0,
                        meetings=0, assist_sessions=0)
    started = time.perf_counter()
    sandbox = GoToSandbox(seed=args.seed, config=config, settings=SandboxSettings(
        public_base_url=f"http://127.0.0.1:{args.port}"), faults=FaultSettings(latency=args.latency))
    seeded = time.perf_counter() - started
    state, now = sandbox.state, sandbox.now()
    organizer = sandbox.default_organizer()
    listed = [w for w in state.webinars.values() if w.organizer_key == organizer.organizer_key
              and w.cancelled_at is None and now - timedelta(days=PAST_DAYS) <= w.first_start
              <= now + timedelta(days=FUTURE_DAYS)]
    ended = [s for w in listed for s in w.sessions if s.end <= now and s.start >= now - timedelta(days=PAST_DAYS)]
    need = {
        "webinar_pages": max(1, math.ceil(len(listed) / PAGE)),
        "session_pages": max(1, math.ceil(len(ended) / PAGE)),
        "registrant_pages": sum(max(1, math.ceil(len(w.registrants) / PAGE)) for w in listed),
        "attendee_calls": sum(1 for s in ended if s.attendance),
    }
    print(json.dumps({"ready": True, "seconds": round(seeded, 2), "need": need, "webinars": len(listed),
                      "registrants": sum(len(w.registrants) for w in listed), "sessions": len(ended),
                      "attendances": sum(len(s.attendance) for s in ended),
                      "series": sum(1 for w in listed if w.type == "series"),
                      "sequences": sum(1 for w in listed if w.type == "sequence")}), flush=True)
    with make_server(sandbox, "127.0.0.1", args.port) as server:
        server.serve_forever()


# -- the benchmark ----------------------------------------------------------------------------

def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakSampler(threading.Thread):
    """The process's resident memory, sampled every 50 ms while a sync runs."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = rss_mb()
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(0.05):
            self.peak = max(self.peak, rss_mb())


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webinars", type=int, default=200)
    parser.add_argument("--registrants", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve-sandbox", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sandbox:
        serve_sandbox(args)
        return 0

    work = Path(tempfile.mkdtemp(prefix="liaison-bench-"))
    os.environ.update({"DJANGO_SETTINGS_MODULE": "liaison.settings", "LIAISON_VAR_DIR": str(work),
                       "LIAISON_DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
                       "LIAISON_TASK_BACKEND": "immediate", "LIAISON_BASE_URL": "http://127.0.0.1:9"})
    os.environ.pop("LIAISON_RATE_LIMIT_BACKEND", None)  # the embedded default: SQLite buckets
    sys.path.insert(0, str(ROOT / "src"))
    port = args.port or free_port()
    load_before = os.getloadavg()
    server = subprocess.Popen([sys.executable, __file__, "--serve-sandbox", "--port", str(port), "--webinars",
                               str(args.webinars), "--registrants", str(args.registrants), "--latency",
                               str(args.latency), "--seed", str(args.seed)], stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(server.stdout.readline())
        return run(args, port, info, load_before)
    finally:
        server.terminate()
        server.wait(10)


def run(args, port: int, info: dict, load_before) -> int:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from liaison.core.http import DbTokenStore, Token
    from liaison.integrations import services as framework
    from liaison.integrations.goto import services
    from liaison.integrations.goto.models import Attendance, Registration
    from liaison.integrations.models import SyncRun
    from liaison.integrations.sync import run_sync

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create(username="bench", role="admin")
    base = f"http://127.0.0.1:{port}"
    integration = framework.create_integration(
        "goto", "Bench", {"client_id": "liaison-demo", "client_secret": "liaison-demo-secret", "api_base_url": base,
                          "auth_base_url": base, "webhooks": False},
        user=user, features={"webinar": True, "training": False, "meeting": False, "assist": False})
    request = urllib.request.Request(f"{base}/_sandbox/oauth/token", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        DbTokenStore(integration.credential_key).save(Token.from_response(json.load(response)))
    services.discover_account(integration)

    need = info["need"]
    minimum = sum(need.values())
    bound = minimum / BUDGET
    print(f"Sandbox: {info['webinars']} webinars ({info['series']} in series, {info['sequences']} sequences), "
          f"{info['registrants']} registrants, {info['sessions']} completed sessions, {info['attendances']} "
          f"attendances; seeded in {info['seconds']} s; {args.latency * 1000:.0f} ms latency per call.")
    print(f"Minimum calls: {minimum} = {need['webinar_pages']} webinar page(s) + {need['session_pages']} session "
          f"page(s) + {need['registrant_pages']} registrant pages + {need['attendee_calls']} attendee lists; "
          f"bound at {BUDGET} calls/s: {bound:.1f} s.")

    rss_before = rss_mb()
    sampler = PeakSampler()
    sampler.start()
    started = time.perf_counter()
    run_sync(None, integration.pk, "bench")
    wall = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    first = SyncRun.objects.latest("started_at")
    peak = max(sampler.peak, rss_mb())
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    started2 = time.perf_counter()
    run_sync(None, integration.pk, "bench")
    wall2 = time.perf_counter() - started2
    second = SyncRun.objects.latest("started_at")
    load_after = os.getloadavg()

    def verdict(ok: bool) -> str:
        return "OK" if ok else "MISSED"

    calls_ratio = first.api_calls / minimum
    wall_ratio = wall / bound
    share = second.api_calls / first.api_calls if first.api_calls else 0
    print(f"First sync: {first.status}; {first.fetched} records fetched, {Registration.objects.count()} "
          f"registrations and {Attendance.objects.count()} attendances stored.")
    print(f"  API calls   {first.api_calls:6d}   = {calls_ratio:.3f} x minimum   (target <= 1.05)  "
          f"{verdict(calls_ratio <= 1.05)}")
    print(f"  wall time   {wall:6.1f} s = {wall_ratio:.3f} x bound     (target <= 1.25)  {verdict(wall_ratio <= 1.25)}")
    print(f"  peak memory {peak:6.0f} MB (process RSS; {rss_before:.0f} MB before the sync, ru_maxrss "
          f"{maxrss:.0f} MB)   (target < 300 MB)  {verdict(peak < 300)}")
    print(f"Second sync, nothing changed: {second.status}; {second.api_calls} API calls = {share:.1%} of the first "
          f"(target <= 5 %)  {verdict(share <= 0.05)}; {wall2:.1f} s.")
    summary = ", ".join(f"{row['calls']} x {row['method']} {row['path']}" for row in second.api_summary)
    print(f"  second sync's calls: {summary}")
    print(f"Machine: {os.cpu_count()} CPUs; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after.")
    ok = calls_ratio <= 1.05 and wall_ratio <= 1.25 and peak < 300 and share <= 0.05
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

# Closing note (measured on the 2-core development machine, 2026-11-22, while other engineers'
# test suites ran on it; "load" is the 1-minute load average before / after the run):
#
#   minimum 1,131 calls (1 webinar page + 1 session page + 1,000 registrant pages + 129 attendee
#   lists), bound 113.1 s
#   first sync:  1,131 calls (1.000 x minimum), 118.9 s (1.051 x bound), peak RSS 216 MB   load 2.53 / 2.24
#   second sync: 2 calls (0.2 %): the two listings (7 calls, 0.6 %, in an hour when the seed has a live
#                webinar: its 5 registrant pages are read again, as live events always are).
#
# Before the facts were written with core.bulk (upsert_rows) the same run took 121-150 s
# (1.07-1.33 x bound) depending on the machine's load: the writes, not the calls, were the limit.
# The calls are the minimum. GoTo answers are fetched in a second thread while the previous one
# is stored, so the database work (275,000 facts with their contacts and timeline entries) hides
# behind the budget of 10 calls per second.

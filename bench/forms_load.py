"""Forms load benchmark: concurrent submitters against ``liaison up`` on loopback.

Starts ``liaison up`` (web server, worker and scheduler, embedded SQLite unless
``LIAISON_DATABASE_URL`` says otherwise) with a temporary ``LIAISON_VAR_DIR`` on port 8765,
creates a published form (e-mail, first name, last name, company, a consent box) whose
actions add the submitter to a segment and give 5 points, and a segment filtering on
"submitted a form in the last 7 days" (so every submission is also re-evaluated by the
worker). Then ``--submitters`` visitors, each in a loop for ``--seconds``: load the page
(GET, which draws a signed token) and submit it (POST) with a new e-mail address.

Afterwards it counts what was stored: submissions, contacts, timeline entries and
segment members must all equal the successful submissions (zero lost).

Targets on a 2-core machine: at least 200 submissions per second, p99 of the
submission (POST) under 150 ms, zero errors, zero lost submissions.

    .venv/bin/python bench/forms_load.py                  # 16 submitters, each as fast as answered
    .venv/bin/python bench/forms_load.py --rate 220       # an offered load of 220 submissions/s
    .venv/bin/python bench/forms_load.py --submitters 24 --seconds 60 --port 8765

The per-address limit stays on, set high (every submitter comes from 127.0.0.1).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN = re.compile(rb'name="form_token" value="([^"]+)"')


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def prepare(env: dict[str, str]) -> str:
    """Migrate and create the form and segments (in this process, with the server's settings)."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.core.management import call_command

    from liaison.segments import services as segments
    from liaison.webforms import services as forms

    call_command("migrate", verbosity=0, interactive=False)
    leads = segments.save_segment({"name": "Leads (form action)"})
    segments.save_segment({"name": "Submitted recently", "filters": {"match": "all", "rules": [
        {"filter": "activity.kind", "operator": "in_last_days", "value": {"values": ["webforms.submitted"],
                                                                           "days": 7}}]}})
    form = forms.save_form({"name": "Load test", "fields": [
        {"label": "E-mail", "key": "email", "type": "email", "required": True, "contact_field": "email"},
        {"label": "First name", "key": "first_name", "required": True, "contact_field": "first_name"},
        {"label": "Last name", "key": "last_name", "contact_field": "last_name"},
        {"label": "Company", "key": "company", "contact_field": "company"},
        {"label": "I agree", "key": "consent", "type": "checkbox", "required": True},
    ], "actions": [{"key": "segments.add", "config": {"segment_id": leads.pk}},
                   {"key": "contact.points", "config": {"points": 5}}]})
    return form.slug


class Submitter(threading.Thread):
    def __init__(self, index: int, port: int, slug: str, deadline: float, reuse_token: bool, interval: float = 0.0):
        super().__init__(daemon=True)
        self.index, self.port, self.slug, self.deadline, self.reuse_token = index, port, slug, deadline, reuse_token
        self.interval = interval  # seconds between the starts of two submissions (0: at once)
        self.post_times: list[float] = []
        self.get_times: list[float] = []
        self.ok = 0
        self.errors: list[str] = []

    def request(self, conn, method, path, body=None, headers=None):
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        path = f"/f/{self.slug}/"
        token = None
        n = 0
        next_start = time.monotonic()
        while time.monotonic() < self.deadline:
            if self.interval:  # an offered load: start on schedule, whatever the last answer took
                pause = next_start - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                next_start += self.interval
            n += 1
            try:
                if token is None or not self.reuse_token:
                    started = time.perf_counter()
                    status, body = self.request(conn, "GET", path)
                    self.get_times.append(time.perf_counter() - started)
                    match = TOKEN.search(body)
                    if status != 200 or not match:
                        self.errors.append(f"GET {status}")
                        continue
                    token = match.group(1).decode()
                data = urllib.parse.urlencode({
                    "form_token": token, "email": f"load{self.index}-{n}@example.com", "first_name": "Load",
                    "last_name": f"Tester {n}", "company": f"Company {n % 50}", "consent": "1", "website_url": ""})
                started = time.perf_counter()
                status, body = self.request(conn, "POST", path, data, {
                    "Content-Type": "application/x-www-form-urlencoded"})
                elapsed = time.perf_counter() - started
                if status == 302:
                    self.ok += 1
                    self.post_times.append(elapsed)
                else:
                    self.errors.append(f"POST {status}: {body[:120]!r}")
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


def wait_ready(port: int, slug: str, process, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit("liaison up stopped before it was ready; see its log")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", f"/f/{slug}/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit("liaison up did not answer in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submitters", type=int, default=16)
    parser.add_argument("--rate", type=float, default=0,
                        help="offered submissions per second in all (default 0: each submitter as fast as answered)")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--web-workers", type=int, default=None, help="passed to liaison up (default: its own)")
    parser.add_argument("--web-threads", type=int, default=None, help="passed to liaison up (default: its own)")
    parser.add_argument("--reuse-token", action="store_true",
                        help="each submitter loads the page once and submits many times (POST only)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary var directory")
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="liaison-forms-load-"))
    env = dict(os.environ, LIAISON_VAR_DIR=str(var), LIAISON_BASE_URL=f"http://127.0.0.1:{args.port}",
               LIAISON_FORM_RATE_LIMIT="1000000/minute", LIAISON_LOG_LEVEL="WARNING",
               DJANGO_SETTINGS_MODULE="liaison.settings", PYTHONPATH=str(ROOT / "src"))
    env.pop("LIAISON_TASK_BACKEND", None)
    slug = prepare(env)
    command = [str(Path(sys.executable).parent / "liaison"), "up", "--port", str(args.port)]
    if args.web_workers:
        command += ["--web-workers", str(args.web_workers)]
    if args.web_threads:
        command += ["--web-threads", str(args.web_threads)]
    log = open(var / "liaison-up.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_ready(args.port, slug, server)
        before = load()
        offered = f", {args.rate:.0f} submissions/s offered" if args.rate else ", each as fast as answered"
        print(f"liaison up on port {args.port} ({' '.join(command[1:])}); {args.submitters} submitters{offered}, "
              f"for {args.seconds:.0f} s; {before}", flush=True)
        started = time.monotonic()
        interval = args.submitters / args.rate if args.rate else 0.0
        threads = [Submitter(i, args.port, slug, started + args.seconds, args.reuse_token, interval)
                   for i in range(args.submitters)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        after = load()
        drained = wait_processed(time.monotonic())
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

    ok = sum(t.ok for t in threads)
    errors = [e for t in threads for e in t.errors]
    posts = [x for t in threads for x in t.post_times]
    gets = [x for t in threads for x in t.get_times]
    counts = count_stored(slug)
    rate = ok / elapsed
    print()
    print(f"submissions       {ok:,} in {elapsed:.1f} s = {rate:.1f} per second   (target ≥ 200/s)")
    print(f"POST latency      p50 {1000 * percentile(posts, .5):.1f} ms  p95 {1000 * percentile(posts, .95):.1f} ms  "
          f"p99 {1000 * percentile(posts, .99):.1f} ms  max {1000 * max(posts or [0]):.1f} ms   (target p99 < 150 ms)")
    if gets:
        print(f"GET latency       p50 {1000 * percentile(gets, .5):.1f} ms  p95 {1000 * percentile(gets, .95):.1f} ms  "
              f"p99 {1000 * percentile(gets, .99):.1f} ms")
    print(f"errors            {len(errors)}   (target 0)" + (f": {statistics.mode(errors)}" if errors else ""))
    print(f"stored            submissions {counts['submissions']:,}, contacts {counts['contacts']:,}, timeline "
          f"entries {counts['timeline']:,}, segment members {counts['members']:,} (by action) and "
          f"{counts['recent']:,} (by filters); views {counts['views']:,}")
    lost = ok - counts["submissions"]
    print(f"lost submissions  {lost}   (target 0)")
    print(f"processing        contacts, timeline, actions and segments were up to date {drained:.1f} s after the load")
    print(f"machine           before: {before}; after: {after}")
    if not args.keep:
        shutil.rmtree(var, ignore_errors=True)
    else:
        print(f"kept {var}")


def wait_processed(since: float, timeout: float = 300) -> float:
    """Seconds the server's worker needed after the load to process what was submitted."""
    from liaison.segments.models import PendingContact
    from liaison.webforms import intake
    from liaison.webforms.models import ActionRun

    while time.monotonic() - since < timeout:
        if not (intake.store().count() or PendingContact.objects.exists()
                or ActionRun.objects.filter(status="pending").exists()):
            break
        time.sleep(0.5)
    return time.monotonic() - since


def count_stored(slug: str) -> dict[str, int]:
    from liaison.contacts.models import Activity, Contact
    from liaison.segments.models import Membership, Segment
    from liaison.webforms import services
    from liaison.webforms.models import Form, Submission

    services._views.clear()  # this process counted none
    form = Form.objects.get(slug=slug)
    return {
        "submissions": Submission.objects.filter(form=form).count(),
        "contacts": Contact.objects.filter(email_key__startswith="load").count(),
        "timeline": Activity.objects.filter(kind="webforms.submitted").count(),
        "members": Membership.objects.filter(segment__name="Leads (form action)").count(),
        "recent": Membership.objects.filter(segment__name="Submitted recently").count(),
        "views": Form.objects.get(pk=form.pk).views,
        "segments": Segment.objects.count(),
    }


if __name__ == "__main__":
    main()

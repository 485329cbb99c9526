"""Campaigns benchmark: step executions per second of the executor on a branching campaign.

Data: ``--contacts`` contacts (default 10,000), all members of a static segment, with
points spread 0..99. The campaign starts from that segment and has three steps:

    condition "points >= 50"
      yes -> action "+10 points"            (contacts.services.adjust_points, on the timeline)
      no  -> action "add to segment Warm-up" (segments.services.add_static, on the timeline)

One ``liaison.campaigns.executor.run`` pass enrols everybody (one INSERT ... SELECT), then
runs the condition for every contact and one action each: 2 x contacts step executions,
each with its StepRun, its timeline entry and the contact's enrollment completed. The
steps are the bench's own (registered for this process) but do their work through the real
services; the core's e-mail and segment steps plug into the same executor.

``--scenario sequence`` is the issue's campaign instead: three actions in a row, send an
e-mail (``emails.services.send_batch`` to the file backend: rendered, tracked, logged),
add to a segment, adjust points (default 100,000 contacts: 300,000 step executions).

Printed: enrolment time, step executions per second, against the target of at least
2,000 per second on SQLite. PostgreSQL too with ``--db postgres|both``, or by default when
``LIAISON_DATABASE_URL`` is set (the bench uses its own database, ``LIAISON_BENCH_PG_URL``,
default postgresql://postgres@127.0.0.1:5432/liaison_bench, dropped and created again).

    .venv/bin/python bench/campaigns.py [--contacts 10000] [--db sqlite|postgres|both]
    .venv/bin/python bench/campaigns.py --scenario sequence [--contacts 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 2_000  # step executions per second on SQLite
SPENT: dict[str, float] = {}  # seconds inside each action's own run() (the services' work)


def timed_run(run):
    """Wrap an action's run() to add its time to SPENT (what the executor itself costs is the rest)."""
    def wrapper(self, targets, config):
        started = time.perf_counter()
        try:
            return run(self, targets, config)
        finally:
            SPENT[self.key] = SPENT.get(self.key, 0.0) + time.perf_counter() - started
    return wrapper


def bench_steps():
    from dataclasses import dataclass

    from django.db.models import Q
    from pydantic import BaseModel

    from liaison.contacts.services import adjust_points
    from liaison.core.contributions import ActionResult, CampaignStep
    from liaison.segments.models import Segment
    from liaison.segments.services import add_static

    class Threshold(BaseModel):
        points: int = 50

    class Delta(BaseModel):
        delta: int = 10

    class Target(BaseModel):
        segment_id: int

    @dataclass(eq=False, repr=False)
    class PointsAtLeast(CampaignStep):
        def to_q(self, config, campaign_id=None):
            return Q(points__gte=config.points)

    @dataclass(eq=False, repr=False)
    class AddPoints(CampaignStep):
        def run(self, targets, config):
            adjust_points([t.contact.pk for t in targets], config.delta, reason="Bench campaign", source="campaign")
            return [ActionResult(True, f"+{config.delta} points") for _ in targets]

    @dataclass(eq=False, repr=False)
    class AddToSegment(CampaignStep):
        def run(self, targets, config):
            add_static(Segment.objects.get(pk=config.segment_id), [t.contact.pk for t in targets],
                       origin="action", source="campaign")
            return [ActionResult(True, "Added to segment") for _ in targets]

    class Mail(BaseModel):
        email_id: int

    @dataclass(eq=False, repr=False)
    class SendEmail(CampaignStep):
        def run(self, targets, config):
            from liaison.emails.models import Email, Send
            from liaison.emails.services import send_batch

            prefix = f"bench:campaign:{targets[0].campaign_id}:step:{targets[0].step_id}"
            send_batch(Email.objects.get(pk=config.email_id), [t.contact.pk for t in targets], dedupe_prefix=prefix)
            outcome = dict(Send.objects.filter(dedupe_key__in=[f"{prefix}:{t.contact.pk}" for t in targets])
                           .values_list("contact_id", "status"))
            return [ActionResult(outcome.get(t.contact.pk) == Send.Status.SENT,
                                 f"E-mail {outcome.get(t.contact.pk, 'not queued')}") for t in targets]

    for action in (AddPoints, AddToSegment, SendEmail):
        action.run = timed_run(action.run)
    return [
        SendEmail(key="bench.send_email", label="Send e-mail", step_kind="action", config_schema=Mail,
                  batch_size=500),
        PointsAtLeast(key="bench.points_at_least", label="Points at least", step_kind="condition",
                      config_schema=Threshold),
        AddPoints(key="bench.add_points", label="Add points", step_kind="action", config_schema=Delta,
                  batch_size=500),
        AddToSegment(key="bench.add_to_segment", label="Add to segment", step_kind="action", config_schema=Target,
                     batch_size=500),
    ]


def build(services, scenario: str, campaign, warm) -> int:
    """The steps of the scenario; returns the step executions expected per contact."""
    if scenario == "sequence":
        from liaison.emails.services import save_email

        email = save_email({"name": "Bench welcome", "subject": "Welcome {contactfield=first_name}",
                            "html": "<p>Hello {contactfield=first_name},</p><p><a href='https://example.com/'>"
                                    "Read more</a> or <a href='{unsubscribe_url}'>unsubscribe</a>.</p>",
                            "from_email": "bench@example.com", "published": True})
        send = services.add_step(campaign, {"key": "bench.send_email", "config": {"email_id": email.pk}})
        add = services.add_step(campaign, {"key": "bench.add_to_segment", "parent": send.pk,
                                           "config": {"segment_id": warm.pk}})
        services.add_step(campaign, {"key": "bench.add_points", "parent": add.pk, "config": {"delta": 10}})
        return 3
    condition = services.add_step(campaign, {"key": "bench.points_at_least", "config": {"points": 50}})
    services.add_step(campaign, {"key": "bench.add_points", "parent": condition.pk, "branch": "yes",
                                 "config": {"delta": 10}})
    services.add_step(campaign, {"key": "bench.add_to_segment", "parent": condition.pk, "branch": "no",
                                 "config": {"segment_id": warm.pk}})
    return 2


def child(db: str, contacts: int, scenario: str = "branches") -> dict:
    sys.path.insert(0, str(ROOT / "bench"))
    from common import setup_django

    setup_django(db, "campaigns", LIAISON_LOG_LEVEL="WARNING")
    from django.db import connection, transaction
    from django.utils import timezone

    from liaison.campaigns import executor, services
    from liaison.campaigns.models import StepRun
    from liaison.contacts.models import Activity, Contact
    from liaison.core.bulk import insert_rows
    from liaison.core.registry import registry
    from liaison.segments.models import Membership, Segment, StaticMember

    now = timezone.now()
    with transaction.atomic():
        Contact.objects.bulk_create([Contact(email=f"p{n}@bench.test", email_key=f"p{n}@bench.test",
                                             first_name=f"First{n}", last_name="Bench", points=n % 100)
                                     for n in range(contacts)], batch_size=5000)
        source = Segment.objects.create(name="Bench: everybody")
        warm = Segment.objects.create(name="Bench: warm-up")
        ids = list(Contact.objects.values_list("pk", flat=True))
        insert_rows(StaticMember, ["segment", "contact", "included", "origin", "added_at"],
                    ((source.pk, i, True, "manual", now) for i in ids))
        insert_rows(Membership, ["segment", "contact", "source", "added_at"], ((source.pk, i, "static", now)
                                                                               for i in ids))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    with registry.override(*bench_steps()):
        campaign = services.create_campaign({"name": "Bench", "audiences": [{"key": "segments.segment",
                                                                             "values": [str(source.pk)]}]})
        per_contact = build(services, scenario, campaign, warm)
        assert not services.publish_problems(campaign)
        # Published without services.publish, which would queue a run: the bench times its own.
        type(campaign).objects.filter(pk=campaign.pk).update(status="published")

        started = time.perf_counter()
        enrolled = executor.enrol_audiences(campaign, timezone.now())
        enrol_s = time.perf_counter() - started
        started = time.perf_counter()
        counts = executor.run(campaign.pk)
        run_s = time.perf_counter() - started

    done = StepRun.objects.filter(campaign=campaign, status="done").count()
    expected = per_contact * contacts
    assert done == expected, f"{done} step runs done, {expected} expected"
    members = Membership.objects.filter(segment=warm).count()
    assert members == (contacts if scenario == "sequence" else contacts // 2), "the segment step missed contacts"
    if scenario == "sequence":
        from liaison.emails.models import Send

        assert Send.objects.filter(status="sent").count() == contacts, "e-mails missing"
    assert Activity.objects.filter(kind="campaigns.step").count() == expected, "timeline entries missing"
    return {"db": connection.vendor, "contacts": contacts, "scenario": scenario, "enrolled": enrolled, "enrol_s": enrol_s,
            "executed": counts.executed, "run_s": run_s, "per_s": counts.executed / run_s,
            "total_per_s": counts.executed / (run_s + enrol_s), "failed": counts.failed, "spent": SPENT}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", choices=["branches", "sequence"], default="branches")
    parser.add_argument("--contacts", type=int, help="default: 10,000 (branches), 100,000 (sequence)")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"],
                        default="both" if os.environ.get("LIAISON_DATABASE_URL") else "sqlite")
    parser.add_argument("--child", metavar="DB")
    args = parser.parse_args()
    args.contacts = args.contacts or (100_000 if args.scenario == "sequence" else 10_000)
    if args.child:
        print("RESULT " + json.dumps(child(args.child, args.contacts, args.scenario)), flush=True)
        return
    shape = ("send an e-mail, add to a segment, adjust points, in a row" if args.scenario == "sequence"
             else "a condition, then one action on each branch")
    per_contact = 3 if args.scenario == "sequence" else 2
    print(f"Campaign of {args.contacts:,} contacts: {shape} ({per_contact * args.contacts:,} step executions); "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}", flush=True)
    ok = True
    for db in (["sqlite", "postgres"] if args.db == "both" else [args.db]):
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        out = subprocess.run([sys.executable, __file__, "--child", db, "--contacts", str(args.contacts),
                              "--scenario", args.scenario],
                             env=env, capture_output=True, text=True)
        lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
        if out.returncode or not lines:
            raise SystemExit(f"{db} failed:\n{out.stderr[-3000:]}")
        r = json.loads(lines[-1][7:])
        met = r["per_s"] >= TARGET if db == "sqlite" else True
        ok &= met
        print(f"\n{r['db']}:")
        print(f"  enrolment (INSERT ... SELECT + first steps): {r['enrolled']:,} contacts in {r['enrol_s']:.2f} s")
        print(f"  steps run: {r['executed']:,} in {r['run_s']:.2f} s = {r['per_s']:,.0f} step executions/s"
              + (f"  (target >= {TARGET:,}/s: {'met' if met else 'MISSED'})" if db == "sqlite" else ""))
        print(f"  including enrolment: {r['total_per_s']:,.0f}/s; failed: {r['failed']}")
        spent = sum(r["spent"].values())
        print("  inside the actions' own services: " + ", ".join(f"{k.split('.', 1)[1]} {v:.2f} s"
                                                             for k, v in r["spent"].items()))
        print(f"  the executor itself (claims, conditions, results, next steps, timeline): {r['run_s'] - spent:.2f} s "
              f"= {r['executed'] / max(r['run_s'] - spent, 1e-9):,.0f} step executions/s")
    print("\nAll targets met." if ok else "\nThe target was missed.")


if __name__ == "__main__":
    main()

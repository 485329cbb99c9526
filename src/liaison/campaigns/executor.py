"""Running campaigns: enrol contacts, run due steps in batches, move decisions on.

Everything is set-based. One pass (``run``):

1. **Enrol** each published campaign's audience members who may enter (the re-entry
   setting) with one ``INSERT ... SELECT`` per campaign, then give the new enrollments their
   first steps with one ``INSERT ... SELECT`` per first step.
2. **Recover** what a dead worker left ``running``: re-run it if the step is idempotent,
   else mark it failed "interrupted" (a step runs at most once).
3. **Time out** decisions whose deadline passed (their *no* branch).
4. **Run due steps**, grouped by step, in batches of the step's ``batch_size``. A batch is
   claimed with ``UPDATE ... SET status='running' WHERE status='pending'`` (committed before
   the work, so two workers never run the same row and a crash leaves a trace); a
   condition is one query for the batch (``to_q``); an action is one ``run(targets,
   config)`` call. Results, the next steps, context changes and timeline entries are
   written in one transaction per batch.

Contact events reach decisions through ``handle_events`` (an ``EventConsumer``): a waiting
decision matching the event takes its *yes* branch; a ``can_start`` source enrols the
event's contacts. ``StepRun`` is unique per (enrollment, step), so nothing runs twice.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import DateTimeField as DateTimeOutput
from django.db.models import Exists, F, JSONField, OuterRef, Q, Subquery, Value
from django.db.models import IntegerField as IntegerOutput
from django.db.models.functions import Coalesce
from django.utils import timezone
from pydantic import BaseModel

from liaison.campaigns.models import Campaign, Enrollment, Step, StepRun
from liaison.contacts.models import Contact
from liaison.contacts.services import ActivityInput, record_activities
from liaison.core.bulk import update_rows, upsert_rows
from liaison.core.contributions import ActionResult, Audience, CampaignStep, ContactEvent, EventConsumer, StepTarget
from liaison.core.registry import registry
from liaison.core.writegate import writer

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
BACKOFF = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=6)
# A run still 'running' after this long was left by a worker that died.
INTERRUPTED_AFTER = timedelta(minutes=15)
CONDITION_BATCH = 1000
TIMEOUT_BATCH = 1000
FINISHED = (Enrollment.Status.COMPLETED, Enrollment.Status.STOPPED)
STEP_KIND = "campaigns.step"
ENTERED_KIND = "campaigns.entered"
INTERRUPTED = ("Interrupted: the worker stopped while this step ran. It is not run again, since it may "
               "have been done (the step is not marked as safe to repeat).")


@dataclass
class Counts:
    enrolled: int = 0
    left: int = 0
    executed: int = 0
    due: int = 0
    done: int = 0
    failed: int = 0
    retried: int = 0
    waiting: int = 0
    timed_out: int = 0
    recovered: int = 0
    interrupted: int = 0
    blocked: dict[int, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"enrolled": self.enrolled, "left": self.left, "executed": self.executed, "done": self.done, "failed": self.failed,
                "retried": self.retried, "waiting": self.waiting, "timed_out": self.timed_out,
                "recovered": self.recovered, "interrupted": self.interrupted,
                "blocked": {str(k): v for k, v in self.blocked.items()}}


def dedupe_key(campaign_id: int, step_id: int, enrollment_id: int) -> str:
    return f"campaign:{campaign_id}:step:{step_id}:enrollment:{enrollment_id}"


def backoff(attempts: int) -> timedelta:
    return min(BACKOFF * (4 ** max(attempts - 1, 0)), BACKOFF_CAP)


def _definition(step: Step) -> CampaignStep | None:
    definition = registry.find(CampaignStep, step.key)
    return definition if definition is not None and definition.step_kind == step.step_kind else None


def _insert_select(model, columns: Sequence[str], queryset) -> int:
    """``INSERT INTO model (columns) SELECT ...`` (the queryset's values, in column order),
    skipping rows that break a unique constraint. Returns the rows inserted."""
    quote = connection.ops.quote_name
    meta = model._meta
    cols = ", ".join(quote(meta.get_field(c).column) for c in columns)
    sql, params = queryset.query.get_compiler(connection=connection).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(meta.db_table)} ({cols}) {sql} ON CONFLICT DO NOTHING", params)
        return max(cursor.rowcount, 0)


# -- enrolling -----------------------------------------------------------------------------

def audience_queryset(campaign: Campaign):
    """Contacts of the campaign's audiences who may enter now, annotated with their ``next_round``."""
    audiences = [(registry.find(Audience, a.get("key", "")), a.get("values") or []) for a in campaign.audiences or []]
    audiences = [(a, v) for a, v in audiences if a is not None and v]
    if not audiences:
        return None
    latest = Enrollment.objects.filter(campaign_id=campaign.pk, contact=OuterRef("pk")).order_by("-round")
    qs = Contact.objects.annotate(
        last_round=Subquery(latest.values("round")[:1]),
        last_status=Subquery(latest.values("status")[:1]),
        last_entered=Subquery(latest.values("entered_at")[:1]),
    )
    in_audience = Q()
    rejoined = Q()
    for audience, values in audiences:
        in_audience |= Q(audience.to_q(values))
        joined = audience.joined_at(values)
        if joined is not None:
            name = f"joined_{len(qs.query.annotations)}"
            qs = qs.annotate(**{name: joined})
            rejoined |= Q(audience.to_q(values)) & Q(**{f"{name}__gt": F("last_entered")})
    qs = qs.filter(in_audience)
    fresh = Q(last_round__isnull=True)
    if campaign.reentry == Campaign.Reentry.ALWAYS:
        qs = qs.filter(fresh | Q(last_status__in=FINISHED))
    elif campaign.reentry == Campaign.Reentry.REJOIN and rejoined:
        qs = qs.filter(fresh | (Q(last_status__in=FINISHED) & rejoined))
    else:
        qs = qs.filter(fresh)
    return qs.annotate(next_round=Coalesce(F("last_round"), Value(0)) + 1)


def enrol_audiences(campaign: Campaign, now: datetime) -> int:
    """Enrol who may enter from the audiences (one INSERT ... SELECT) and start their runs."""
    qs = audience_queryset(campaign)
    if qs is None:
        return 0
    rows = qs.annotate(
        c=Value(campaign.pk, output_field=IntegerOutput()),
        st=Value(Enrollment.Status.ACTIVE),
        ctx=Value({}, output_field=JSONField()),
        src=Value("audience"),
        ref=Value(""),
        at=Value(now, output_field=DateTimeOutput()),
    ).values_list("c", "pk", "next_round", "st", "ctx", "src", "ref", "at").order_by()
    with writer(), transaction.atomic():
        added = _insert_select(Enrollment, ["campaign", "contact", "round", "status", "context", "source",
                                            "entry_ref", "entered_at"], rows)
        if added:
            start_runs(campaign, now)
            new = Enrollment.objects.filter(campaign=campaign, entered_at=now, source="audience")
            url = campaign_url(campaign)
            record_activities(ActivityInput(contact_id=contact_id, kind=ENTERED_KIND, occurred_at=now,
                                            title=f"Entered campaign “{campaign.name}”",
                                            dedup_key=f"campaigns:enrollment:{pk}", source="campaigns",
                                            data={"campaign_id": campaign.pk, "round": round_,
                                                  "summary": "From the campaign's audience", "url": url})
                              for pk, contact_id, round_ in new.values_list("pk", "contact_id", "round").iterator())
    return added


def _first_run_values(step: Step, now: datetime) -> dict[str, Any]:
    if step.step_kind == Step.Kind.DECISION:
        timeout = step.timeout_timedelta()
        return {"status": StepRun.Status.WAITING, "due_at": now, "deadline": now + timeout if timeout else None,
                "started_at": now}
    return {"status": StepRun.Status.PENDING, "due_at": step.due_from(now), "deadline": None, "started_at": None}


def start_runs(campaign: Campaign, now: datetime) -> None:
    """First steps for the campaign's active enrollments that have none yet (one INSERT per first step)."""
    roots = list(Step.objects.filter(campaign=campaign, parent__isnull=True))
    without_runs = Enrollment.objects.filter(campaign=campaign, status=Enrollment.Status.ACTIVE).exclude(
        Exists(StepRun.objects.filter(enrollment=OuterRef("pk"))))
    if not roots:
        without_runs.update(status=Enrollment.Status.COMPLETED, completed_at=now)
        return
    # Rows for every root are chosen before any is inserted (the NOT EXISTS would see the first root's).
    ids = list(without_runs.values_list("pk", flat=True))
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        for root in roots:
            values = _first_run_values(root, now)
            rows = Enrollment.objects.filter(pk__in=chunk).annotate(
                s=Value(root.pk, output_field=IntegerOutput()), c=Value(campaign.pk, output_field=IntegerOutput()),
                st=Value(values["status"]), due=Value(values["due_at"], output_field=DateTimeOutput()),
                dl=Value(values["deadline"], output_field=DateTimeOutput()),
                sa=Value(values["started_at"], output_field=DateTimeOutput()),
                at=Value(now, output_field=DateTimeOutput()), z=Value(0, output_field=IntegerOutput()),
                e=Value(""), d=Value({}, output_field=JSONField()),
            ).values_list("pk", "s", "c", "contact_id", "st", "due", "dl", "sa", "at", "z", "e", "e", "d", "e")
            _insert_select(StepRun, ["enrollment", "step", "campaign", "contact", "status", "due_at", "deadline",
                                     "started_at", "created_at", "attempts", "branch", "message", "data", "claim"],
                           rows.order_by())


def schedule_children(items: Iterable[tuple[int, int, int, str]], campaign_id: int, now: datetime,
                      children_of: Callable[[int, str], list[Step]]) -> int:
    """Create the runs of the steps following ``(enrollment, contact, step, branch)`` (at most once)."""
    rows = []
    for enrollment_id, contact_id, step_id, branch in items:
        for child in children_of(step_id, branch):
            v = _first_run_values(child, now)
            rows.append((enrollment_id, child.pk, campaign_id, contact_id, v["status"], v["due_at"], v["deadline"],
                         v["started_at"], now, 0, "", "", {}, ""))
    if rows:
        upsert_rows(StepRun, ["enrollment", "step", "campaign", "contact", "status", "due_at", "deadline",
                              "started_at", "created_at", "attempts", "branch", "message", "data", "claim"],
                    rows, conflict=["enrollment", "step"])
    return len(rows)


class Tree:
    """A campaign's steps, loaded once per pass: children by (step, branch)."""

    def __init__(self, campaign: Campaign):
        self.campaign = campaign
        self.steps = {s.pk: s for s in Step.objects.filter(campaign=campaign).order_by("position", "id")}
        self.children: dict[tuple[int, str], list[Step]] = defaultdict(list)
        for step in self.steps.values():
            if step.parent_id is not None:
                self.children[(step.parent_id, step.branch)].append(step)

    def children_of(self, step_id: int, branch: str) -> list[Step]:
        return self.children.get((step_id, branch), [])


def complete_finished(enrollment_ids: Iterable[int], now: datetime) -> None:
    """Mark enrollments with nothing left to do as completed (a SELECT and an UPDATE per chunk)."""
    ids = sorted(set(enrollment_ids))
    for start in range(0, len(ids), 5000):
        chunk = ids[start:start + 5000]
        still_open = set(StepRun.objects.filter(enrollment_id__in=chunk, status__in=StepRun.OPEN)
                         .values_list("enrollment_id", flat=True).distinct().order_by())
        over = [pk for pk in chunk if pk not in still_open]
        if over:
            Enrollment.objects.filter(pk__in=over, status=Enrollment.Status.ACTIVE).update(
                status=Enrollment.Status.COMPLETED, completed_at=now)


# -- running steps -------------------------------------------------------------------------

@dataclass
class Outcome:
    run_id: int
    enrollment_id: int
    contact_id: int
    status: str
    message: str = ""
    branch: str = ""
    attempts: int = 1
    due_at: datetime | None = None
    context: dict[str, Any] | None = None
    data: dict[str, Any] = field(default_factory=dict)


def _claim(step: Step, limit: int, now: datetime) -> tuple[str, list[dict[str, Any]]]:
    """Take up to ``limit`` due pending runs of a step for this worker (committed at once)."""
    token = uuid.uuid4().hex
    with writer(), transaction.atomic():
        ids = list(StepRun.objects.filter(step=step, status=StepRun.Status.PENDING, due_at__lte=now)
                   .order_by("due_at", "id").values_list("pk", flat=True)[:limit])
        if not ids:
            return token, []
        StepRun.objects.filter(pk__in=ids, status=StepRun.Status.PENDING).update(
            status=StepRun.Status.RUNNING, claim=token, started_at=now, attempts=F("attempts") + 1)
    runs = list(StepRun.objects.filter(claim=token, status=StepRun.Status.RUNNING)
                .values("pk", "enrollment_id", "contact_id", "attempts").order_by("pk"))
    return token, runs


def _retry_or_fail(run: dict[str, Any], message: str, now: datetime) -> Outcome:
    if run["attempts"] >= MAX_ATTEMPTS:
        return Outcome(run["pk"], run["enrollment_id"], run["contact_id"], StepRun.Status.FAILED,
                       f"Failed after {run['attempts']} attempts: {message}", attempts=run["attempts"])
    return Outcome(run["pk"], run["enrollment_id"], run["contact_id"], StepRun.Status.PENDING,
                   f"Attempt {run['attempts']} failed, trying again: {message}", attempts=run["attempts"],
                   due_at=now + backoff(run["attempts"]))


def _contexts(enrollment_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    return dict(Enrollment.objects.filter(pk__in=list(enrollment_ids)).values_list("pk", "context"))


def _run_action(step: Step, definition: CampaignStep, config: BaseModel, runs: list[dict], now: datetime) -> list[Outcome]:
    contacts = Contact.objects.in_bulk([r["contact_id"] for r in runs])
    contexts = _contexts(r["enrollment_id"] for r in runs)
    present = [r for r in runs if r["contact_id"] in contacts]
    outcomes = [Outcome(r["pk"], r["enrollment_id"], r["contact_id"], StepRun.Status.SKIPPED, "The contact is gone.")
                for r in runs if r["contact_id"] not in contacts]
    targets = [StepTarget(contact=contacts[r["contact_id"]],
                          dedupe_key=dedupe_key(step.campaign_id, step.pk, r["enrollment_id"]),
                          context=dict(contexts.get(r["enrollment_id"]) or {}), source="campaign",
                          campaign_id=step.campaign_id, step_id=step.pk) for r in present]
    try:
        results = list(definition.run(targets, config)) if targets else []
        if len(results) != len(targets):
            raise RuntimeError(f"{definition.label} answered for {len(results)} of {len(targets)} contacts.")
    except Exception as exc:
        retryable = getattr(exc, "retryable", False)
        if not retryable:
            logger.warning("Campaign step %s failed: %s", step.key, exc, exc_info=True)
        return outcomes + [_retry_or_fail(r, str(exc) or type(exc).__name__, now) for r in present]
    for run, result in zip(present, results, strict=True):
        if not isinstance(result, ActionResult):
            result = ActionResult(False, f"{definition.label} gave no result.")
        if result.ok:
            extra = (result.data or {}).get("context")
            outcomes.append(Outcome(run["pk"], run["enrollment_id"], run["contact_id"], StepRun.Status.DONE,
                                    result.message, attempts=run["attempts"],
                                    context=extra if isinstance(extra, dict) and extra else None,
                                    data={k: v for k, v in (result.data or {}).items() if k != "context"}))
        elif result.retry:
            outcomes.append(_retry_or_fail(run, result.message or "Temporary failure.", now))
        else:
            outcomes.append(Outcome(run["pk"], run["enrollment_id"], run["contact_id"], StepRun.Status.FAILED,
                                    result.message or f"{definition.label} failed.", attempts=run["attempts"]))
    return outcomes


def _run_condition(step: Step, definition: CampaignStep, config: BaseModel, runs: list[dict],
                   now: datetime) -> list[Outcome]:
    ids = [r["contact_id"] for r in runs]
    try:
        yes = set(Contact.objects.filter(pk__in=ids).filter(definition.to_q(config, step.campaign_id))
                  .values_list("pk", flat=True))
    except Exception as exc:
        logger.warning("Campaign condition %s failed: %s", step.key, exc, exc_info=True)
        return [_retry_or_fail(r, str(exc) or type(exc).__name__, now) for r in runs]
    return [Outcome(r["pk"], r["enrollment_id"], r["contact_id"], StepRun.Status.DONE,
                    "Yes" if r["contact_id"] in yes else "No", branch="yes" if r["contact_id"] in yes else "no",
                    attempts=r["attempts"]) for r in runs]


def finish(tree: Tree, step: Step, outcomes: list[Outcome], now: datetime, token: str = "") -> None:
    """Write a batch's results, the next steps, context changes and timeline entries (one transaction)."""
    if not outcomes:
        return
    summary = step.name or _summary(step)
    with writer(), transaction.atomic():
        if not Campaign.objects.filter(pk=step.campaign_id).exists():
            return  # deleted meanwhile (with its runs): nothing to write
        update_rows(StepRun, ["status", "message", "branch", "attempts", "due_at", "finished_at", "claim", "data"],
                    [(o.status, o.message[:5000], o.branch, o.attempts, o.due_at or now,
                      now if o.status in (StepRun.Status.DONE, StepRun.Status.FAILED, StepRun.Status.SKIPPED) else None,
                      "", o.data, o.run_id) for o in outcomes])
        merged = [o for o in outcomes if o.context]
        if merged:
            contexts = _contexts(o.enrollment_id for o in merged)
            update_rows(Enrollment, ["context"],
                        [({**(contexts.get(o.enrollment_id) or {}), **o.context}, o.enrollment_id) for o in merged])
        done = [o for o in outcomes if o.status == StepRun.Status.DONE]
        schedule_children(((o.enrollment_id, o.contact_id, step.pk, o.branch) for o in done), step.campaign_id, now,
                          tree.children_of)
        finished = [o for o in outcomes if o.status != StepRun.Status.PENDING]
        url = campaign_url(tree.campaign)
        record_activities(_activity(tree.campaign, step, summary, o, now, url) for o in finished)
        # Only a run that leads nowhere may end its enrollment (other branches may still be open).
        complete_finished((o.enrollment_id for o in finished
                           if o.status != StepRun.Status.DONE or not tree.children_of(step.pk, o.branch)), now)


def _summary(step: Step) -> str:
    from liaison.campaigns.services import summarize

    return summarize(step.key, step.config)


def campaign_url(campaign: Campaign) -> str:
    """The campaign's page, for the timeline ("" while the pages are not installed)."""
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("campaigns:detail", args=[campaign.pk])
    except NoReverseMatch:
        return ""


def _activity(campaign: Campaign, step: Step, summary: str, outcome: Outcome, now: datetime,
              url: str = "") -> ActivityInput:
    if outcome.status == StepRun.Status.FAILED:
        title = f"{campaign.name}: {summary} — failed"
    elif outcome.branch:
        title = f"{campaign.name}: {summary} — {outcome.branch}"
    else:
        title = f"{campaign.name}: {summary}"
    return ActivityInput(contact_id=outcome.contact_id, kind=STEP_KIND, occurred_at=now, title=title,
                         dedup_key=f"campaigns:run:{outcome.run_id}", source="campaigns",
                         data={"campaign_id": campaign.pk, "step_id": step.pk, "status": outcome.status,
                               "branch": outcome.branch, "summary": outcome.message, "kind": step.step_kind,
                               "url": url})


def _block(step: Step, reason: str, now: datetime, counts: Counts) -> None:
    """Keep the step's due runs waiting, saying why (the message changes once)."""
    counts.blocked[step.pk] = reason
    with writer():
        StepRun.objects.filter(step=step, status=StepRun.Status.PENDING, due_at__lte=now).exclude(
            message=reason).update(message=reason)


def run_step(tree: Tree, step: Step, counts: Counts, now: datetime, check: Callable[[], None] | None = None,
             on_batch: Callable[[], None] | None = None) -> int:
    """Run the due runs of one step, batch after batch. Returns how many were executed."""
    definition = _definition(step)
    if definition is None:
        _block(step, f"Waiting: the step {step.key!r} is not installed (or is no longer a {step.step_kind}).",
               now, counts)
        return 0
    reason = definition.unavailable_reason()
    if reason:
        _block(step, f"Waiting: {reason}", now, counts)
        return 0
    try:
        config = definition.parse(step.config)
    except Exception as exc:  # noqa: BLE001 - a config that no longer validates keeps contacts waiting
        _block(step, f"Waiting: the step's settings need attention ({exc}).", now, counts)
        return 0
    size = definition.batch_size if step.step_kind == Step.Kind.ACTION else CONDITION_BATCH
    executed = 0
    while True:
        if check:
            check()
        if not Campaign.objects.filter(pk=step.campaign_id, status=Campaign.Status.PUBLISHED).exists():
            return executed  # paused (or deleted) meanwhile: the rest waits
        token, runs = _claim(step, size, now)
        if not runs:
            return executed
        if step.step_kind == Step.Kind.ACTION:
            outcomes = _run_action(step, definition, config, runs, now)
        else:
            outcomes = _run_condition(step, definition, config, runs, now)
        finish(tree, step, outcomes, now, token)
        executed += len(runs)
        counts.executed += len(runs)
        for o in outcomes:
            if o.status == StepRun.Status.DONE:
                counts.done += 1
            elif o.status == StepRun.Status.FAILED:
                counts.failed += 1
            elif o.status == StepRun.Status.PENDING:
                counts.retried += 1
        if on_batch:
            on_batch()  # progress, and the job's heartbeat during a long step


# -- decisions -----------------------------------------------------------------------------

def time_out(campaign: Campaign, tree: Tree, now: datetime, counts: Counts) -> int:
    """Waiting decisions past their deadline take the *no* branch."""
    moved = 0
    while True:
        token = uuid.uuid4().hex
        with writer(), transaction.atomic():
            ids = list(StepRun.objects.filter(campaign=campaign, status=StepRun.Status.WAITING, deadline__lte=now)
                       .order_by("deadline", "id").values_list("pk", flat=True)[:TIMEOUT_BATCH])
            if not ids:
                return moved
            StepRun.objects.filter(pk__in=ids, status=StepRun.Status.WAITING).update(
                status=StepRun.Status.RUNNING, claim=token)
        runs = list(StepRun.objects.filter(claim=token, status=StepRun.Status.RUNNING)
                    .values("pk", "enrollment_id", "contact_id", "attempts", "step_id"))
        by_step: dict[int, list[dict]] = defaultdict(list)
        for run in runs:
            by_step[run["step_id"]].append(run)
        for step_id, step_runs in by_step.items():
            step = tree.steps.get(step_id)
            if step is None:
                continue
            finish(tree, step, [Outcome(r["pk"], r["enrollment_id"], r["contact_id"], StepRun.Status.DONE,
                                        f"No event within {step.describe_timeout() or 'the time allowed'}",
                                        branch="no", attempts=r["attempts"]) for r in step_runs], now)
        moved += len(runs)
        counts.timed_out += len(runs)
        counts.executed += len(runs)


def _start_definitions() -> dict[str, CampaignStep]:
    return {s.key: s for s in registry.all(CampaignStep) if s.step_kind == "decision"}


def decision_event_keys() -> tuple[str, ...]:
    keys: set[str] = set()
    for step in registry.all(CampaignStep):
        if step.step_kind == "decision":
            keys.update(step.events)
    return tuple(sorted(keys))


@dataclass(eq=False, repr=False)
class CampaignEvents(EventConsumer):
    """Offered the events the registered decisions wait for (read when offered: steps of apps
    that start after this one count too)."""

    def accepts(self, key: str) -> bool:
        return key in decision_event_keys()


def handle_events(events: Sequence[ContactEvent]) -> None:
    """The campaigns' ``EventConsumer``: events move waiting decisions on and start campaigns."""
    definitions = _start_definitions()
    if not definitions or not events:
        return
    event_keys = {e.key for e in events}
    wanted = [k for k, d in definitions.items() if event_keys & set(d.events)]
    if not wanted:
        return
    now = timezone.now()
    campaigns = {c.pk: c for c in Campaign.objects.exclude(status=Campaign.Status.DRAFT)}
    decision_steps = [s for s in Step.objects.filter(step_kind=Step.Kind.DECISION, key__in=wanted,
                                                     campaign_id__in=list(campaigns))]
    trees: dict[int, Tree] = {}
    for event in events:
        matching: list[tuple[Step, dict]] = []
        for step in decision_steps:
            definition = definitions[step.key]
            if event.key not in definition.events:
                continue
            try:
                config = definition.parse(step.config)
                if definition.matches(config, event):
                    matching.append((step, dict(definition.context_from(config, event) or {})))
            except Exception:
                logger.warning("Campaign decision %s could not read event %s", step.key, event.ref, exc_info=True)
        if matching:
            _decide(event, matching, campaigns, trees, now)
        _start_from(event, [c for c in campaigns.values() if c.is_published and c.starts], definitions, trees, now)


def _decide(event: ContactEvent, matching: list[tuple[Step, dict]], campaigns: dict[int, Campaign],
            trees: dict[int, Tree], now: datetime) -> None:
    by_step = {step.pk: (step, context) for step, context in matching}
    token = uuid.uuid4().hex
    # Only runs that were already waiting when the event happened take it. Providers stamp
    # events to the second: such an event may have happened up to a second after its stamp.
    waiting_by = ({"started_at__lt": event.occurred_at + timedelta(seconds=1)}
                  if event.occurred_at.microsecond == 0 else {"started_at__lte": event.occurred_at})
    qs = StepRun.objects.filter(step_id__in=list(by_step), status=StepRun.Status.WAITING,
                                contact_id__in=list(event.contact_ids), **waiting_by)
    if not qs.update(status=StepRun.Status.RUNNING, claim=token):
        return
    runs = list(StepRun.objects.filter(claim=token, status=StepRun.Status.RUNNING)
                .values("pk", "enrollment_id", "contact_id", "attempts", "step_id"))
    grouped: dict[int, list[dict]] = defaultdict(list)
    for run in runs:
        grouped[run["step_id"]].append(run)
    for step_id, step_runs in grouped.items():
        step, context = by_step[step_id]
        tree = trees.get(step.campaign_id) or trees.setdefault(step.campaign_id, Tree(campaigns[step.campaign_id]))
        finish(tree, step, [Outcome(r["pk"], r["enrollment_id"], r["contact_id"], StepRun.Status.DONE,
                                    "The event happened", branch="yes", attempts=r["attempts"],
                                    context=context or None, data={"event": event.ref, "event_key": event.key})
                            for r in step_runs], now)


def _start_from(event: ContactEvent, campaigns: list[Campaign], definitions: dict[str, CampaignStep],
                trees: dict[int, Tree], now: datetime) -> None:
    for campaign in campaigns:
        context: dict[str, Any] | None = None
        for start in campaign.starts:
            definition = definitions.get(start.get("key", ""))
            if definition is None or not definition.can_start or event.key not in definition.events:
                continue
            try:
                config = definition.parse(start.get("config"))
                if definition.matches(config, event):
                    context = dict(definition.context_from(config, event) or {})
                    break
            except Exception:
                logger.warning("Campaign start %s could not read event %s", definition.key, event.ref, exc_info=True)
        if context is not None:
            enrol_contacts(campaign, event.contact_ids, now, source=event.key, entry_ref=f"{event.key}:{event.ref}",
                           context={**context, "event": {"key": event.key, "ref": event.ref, **dict(event.data)}},
                           tree=trees.get(campaign.pk) or trees.setdefault(campaign.pk, Tree(campaign)))


def enrol_contacts(campaign: Campaign, contact_ids: Iterable[int], now: datetime, *, source: str, entry_ref: str = "",
                   context: dict[str, Any] | None = None, tree: Tree | None = None) -> list[int]:
    """Enrol these contacts (e.g. from an event) following the re-entry setting; the new enrollments' ids."""
    ids = sorted({int(i) for i in contact_ids})
    if not ids:
        return []
    latest: dict[int, tuple[int, str]] = {}
    for contact_id, round_, status in (Enrollment.objects.filter(campaign=campaign, contact_id__in=ids)
                                       .order_by("contact_id", "round").values_list("contact_id", "round", "status")):
        latest[contact_id] = (round_, status)
    rows = []
    for contact_id in ids:
        if contact_id in latest:
            round_, status = latest[contact_id]
            if campaign.reentry == Campaign.Reentry.NEVER or status not in FINISHED:
                continue
            rows.append((campaign.pk, contact_id, round_ + 1))
        else:
            rows.append((campaign.pk, contact_id, 1))
    if not rows:
        return []
    with writer(), transaction.atomic():
        upsert_rows(Enrollment, ["campaign", "contact", "round", "status", "context", "source", "entry_ref",
                                 "entered_at"],
                    [(c, k, r, Enrollment.Status.ACTIVE, context or {}, source[:100], entry_ref[:255], now)
                     for c, k, r in rows], conflict=["campaign", "contact", "round"])
        new = list(Enrollment.objects.filter(campaign=campaign, contact_id__in=[r[1] for r in rows], entered_at=now,
                                             source=source[:100], entry_ref=entry_ref[:255])
                   .exclude(Exists(StepRun.objects.filter(enrollment=OuterRef("pk"))))
                   .values_list("pk", "contact_id", "round"))
        tree = tree or Tree(campaign)
        roots = [s for s in tree.steps.values() if s.parent_id is None]
        runs = []
        for pk, contact_id, _ in new:
            for root in roots:
                v = _first_run_values(root, now)
                runs.append((pk, root.pk, campaign.pk, contact_id, v["status"], v["due_at"], v["deadline"],
                             v["started_at"], now, 0, "", "", {}, ""))
        if runs:
            upsert_rows(StepRun, ["enrollment", "step", "campaign", "contact", "status", "due_at", "deadline",
                                  "started_at", "created_at", "attempts", "branch", "message", "data", "claim"],
                        runs, conflict=["enrollment", "step"])
        elif new:
            complete_finished([pk for pk, _, _ in new], now)
        url = campaign_url(campaign)
        record_activities(ActivityInput(contact_id=contact_id, kind=ENTERED_KIND, occurred_at=now,
                                        title=f"Entered campaign “{campaign.name}”",
                                        dedup_key=f"campaigns:enrollment:{pk}", source="campaigns",
                                        data={"campaign_id": campaign.pk, "round": round_, "summary": source,
                                              "url": url})
                          for pk, contact_id, round_ in new)
    return [pk for pk, _, _ in new]


# -- leaving -------------------------------------------------------------------------------

def stop(enrollment_ids: list[int], now: datetime, reason: str) -> int:
    """End these enrollments: their open runs are skipped with ``reason``. Returns how many ended."""
    stopped = 0
    with writer(), transaction.atomic():
        for start in range(0, len(enrollment_ids), 5000):
            chunk = enrollment_ids[start:start + 5000]
            StepRun.objects.filter(enrollment_id__in=chunk, status__in=StepRun.OPEN).update(
                status=StepRun.Status.SKIPPED, message=reason, finished_at=now, claim="")
            stopped += Enrollment.objects.filter(pk__in=chunk, status=Enrollment.Status.ACTIVE).update(
                status=Enrollment.Status.STOPPED, completed_at=now)
    return stopped


def release_leavers(campaign: Campaign, now: datetime) -> int:
    """Contacts enrolled from the audience who are no longer in it leave the campaign (one query to find them)."""
    if not campaign.exit_on_leave or not campaign.audiences:
        return 0
    in_audience = Q()
    for item in campaign.audiences:
        audience = registry.find(Audience, item.get("key", ""))
        if audience is None or audience.unavailable_reason(item.get("values") or []) is not None:
            return 0  # cannot tell who left: nobody is taken out
        in_audience |= Q(audience.to_q(item.get("values") or []))
    member = Contact.objects.filter(pk=OuterRef("contact_id")).filter(in_audience)
    ids = list(Enrollment.objects.filter(campaign=campaign, status=Enrollment.Status.ACTIVE, source="audience")
               .exclude(Exists(member)).values_list("pk", flat=True))
    return stop(ids, now, "Left the campaign's audience.") if ids else 0


# -- crash recovery ------------------------------------------------------------------------

def recover(campaign: Campaign, tree: Tree, now: datetime, counts: Counts,
            older_than: timedelta = INTERRUPTED_AFTER) -> None:
    """Runs left 'running' by a dead worker. Conditions and idempotent actions run again,
    decisions wait again (neither has done anything yet); other actions are marked failed
    "interrupted": they may have been done, and a step runs at most once."""
    stale = StepRun.objects.filter(campaign=campaign, status=StepRun.Status.RUNNING, started_at__lte=now - older_than)
    if not stale.exists():
        return
    again, wait = [], []
    for pk, step in tree.steps.items():
        definition = _definition(step)
        if step.step_kind == Step.Kind.DECISION:
            wait.append(pk)
        elif step.step_kind == Step.Kind.CONDITION or (definition is not None and definition.idempotent):
            again.append(pk)
    with writer(), transaction.atomic():
        counts.recovered += stale.filter(step_id__in=again).update(status=StepRun.Status.PENDING, claim="",
                                                                    due_at=now, message="Interrupted; run again.")
        counts.recovered += stale.filter(step_id__in=wait).update(status=StepRun.Status.WAITING, claim="")
        lost = list(stale.values("pk", "enrollment_id", "contact_id", "attempts", "step_id"))
    by_step: dict[int, list[dict]] = defaultdict(list)
    for run in lost:
        by_step[run["step_id"]].append(run)
    for step_id, runs in by_step.items():
        step = tree.steps[step_id]
        finish(tree, step, [Outcome(r["pk"], r["enrollment_id"], r["contact_id"], StepRun.Status.FAILED, INTERRUPTED,
                                    attempts=r["attempts"]) for r in runs], now)
        counts.interrupted += len(runs)


# -- the pass ------------------------------------------------------------------------------

def run(campaign_id: int | None = None, *, progress: Callable[[Counts, str], None] | None = None,
        check: Callable[[], None] | None = None, recover_after: timedelta = INTERRUPTED_AFTER) -> Counts:
    """One pass over the published campaigns (or one): enrol, recover, time out, run what is due."""
    counts = Counts()
    campaigns = Campaign.objects.filter(status=Campaign.Status.PUBLISHED)
    if campaign_id is not None:
        campaigns = campaigns.filter(pk=campaign_id)
    for campaign in campaigns:
        now = timezone.now()
        tree = Tree(campaign)
        counts.left += release_leavers(campaign, now)
        counts.enrolled += enrol_audiences(campaign, now)
        recover(campaign, tree, now, counts, recover_after)
        time_out(campaign, tree, now, counts)
        blocked: set[int] = set()
        report = partial(progress, counts, campaign.name) if progress else None
        while True:
            now = timezone.now()
            if not Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.PUBLISHED).exists():
                break  # paused (or deleted) meanwhile
            waiting = StepRun.objects.filter(campaign=campaign, status=StepRun.Status.PENDING, due_at__lte=now)
            due = list(waiting.exclude(step_id__in=blocked).values_list("step_id", flat=True).distinct().order_by())
            if not due:
                break
            # What is due now, for the progress bar (the next steps add to it as they are scheduled).
            counts.due = counts.executed + waiting.exclude(step_id__in=blocked).count()
            for step_id in due:
                step = tree.steps.get(step_id)
                if step is None:  # the step was added since the pass started
                    tree = Tree(campaign)
                    step = tree.steps.get(step_id)
                    if step is None:
                        blocked.add(step_id)
                        continue
                try:
                    executed = run_step(tree, step, counts, now, check, on_batch=report)
                except IntegrityError:
                    if Campaign.objects.filter(pk=campaign.pk).exists():
                        raise
                    break  # deleted during the batch: its runs went with it
                if not executed:
                    blocked.add(step_id)
        Campaign.objects.filter(pk=campaign.pk).update(last_run_at=timezone.now())
    return counts


def run_job(ctx, campaign_id: int | None = None) -> dict[str, Any]:
    """The ``campaigns.run`` job."""
    def report(counts: Counts, name: str) -> None:
        ctx.progress(counts.executed, max(counts.due, counts.executed) or None,
                     f"{name}: {counts.executed} steps run, {counts.failed} failed")

    counts = run(campaign_id, progress=report, check=ctx.check_cancelled)
    ctx.progress(counts.executed, counts.executed or None, f"{counts.executed} steps run", force=True)
    for step_id, reason in counts.blocked.items():
        ctx.log(f"Step #{step_id}: {reason}")
    return counts.as_dict()

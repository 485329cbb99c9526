"""Points: scoring contact events with rules, and firing triggers at thresholds.

Scoring: the ``points.rules`` event consumer gets batches of ``ContactEvent``s, matches them
to the active rules, inserts ``PointAward`` rows (unique per rule, contact and fact) ignoring
conflicts, and applies only the rows it inserted through ``contacts.services.adjust_points``
(which changes the points, writes the timeline and announces the change). The same event
delivered twice finds its awards already there and scores nothing.

Triggers: whenever contacts change (``contacts_changed``, sent after the commit; so after
awards too) their points are compared with the active triggers' thresholds; a contact at or
above one without a ``TriggerFiring`` gets one (unique: once per contact, ever) and a
``points.fire`` job runs the trigger's actions (registry ``CampaignStep`` actions) for the
batch, storing each action's outcome on the firing and the timeline.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Exists, Max, OuterRef
from django.utils import timezone
from pydantic import ValidationError as PydanticValidationError

from liaison.contacts import services as contacts
from liaison.contacts.models import Contact
from liaison.core import jobs, schedules, writegate
from liaison.core.bulk import update_rows
from liaison.core.contributions import ActionResult, CampaignStep, ContactEvent, PointEvent, StepTarget
from liaison.core.errors import LiaisonError, RetryableError, ValidationFailed
from liaison.core.models import Job, Schedule
from liaison.core.registry import registry
from liaison.core.schema import validate_model
from liaison.points.models import ONCE, PointAward, PointRule, PointTrigger, TriggerFiring

logger = logging.getLogger(__name__)

CHUNK = 1000
FIRE_BATCH = 500
MAX_POINTS = 1_000_000
MAX_THRESHOLD = 2_000_000_000
MAX_ACTIONS = 20
MAX_SUBJECTS = 500
FIRE_JOB = "points.fire"
EVALUATE_JOB = "points.evaluate"
TIMELINE_KIND = "points.trigger"


# -- catalogues -------------------------------------------------------------------------------

def point_events() -> list[PointEvent]:
    return sorted(registry.all(PointEvent), key=lambda e: (e.group not in ("Liaison", "E-mails", "Forms"), e.group,
                                                            e.label))


def event_choices() -> list[tuple[str, str]]:
    """``(key, "Group · label")`` of every point event, for a select."""
    return [(e.key, f"{e.group} · {e.label}") for e in point_events()]


def subject_choices(event: PointEvent | None) -> list[tuple[str, str]]:
    if event is None or not event.subject or event.subject_choices is None:
        return []
    try:
        return [(str(v), str(label)) for v, label in event.subject_choices()]
    except Exception:  # noqa: BLE001 - a broken integration must not break the rule page
        logger.exception("subject choices of %s failed", event.key)
        return []


def trigger_actions() -> list[CampaignStep]:
    """The campaign actions a trigger may run."""
    return sorted((s for s in registry.all(CampaignStep) if s.step_kind == "action"),
                  key=lambda s: (s.group != "Liaison", s.group, s.label))


def action_step(key: str) -> CampaignStep | None:
    step = registry.find(CampaignStep, key)
    return step if step is not None and step.step_kind == "action" else None


def _name(data: Mapping[str, Any], current: str, model, instance, errors: dict[str, list[str]], what: str) -> str:
    name = " ".join(str(data.get("name", current) or "").split())
    if not name:
        errors["name"] = [f"A {what} needs a name."]
    elif len(name) > 200:
        errors["name"] = ["Use at most 200 characters."]
    elif model.objects.filter(name__iexact=name).exclude(pk=getattr(instance, "pk", None)).exists():
        errors["name"] = [f"Another {what} already has this name."]
    return name


def _integer(value: Any, low: int, high: int, field_name: str, errors: dict[str, list[str]]) -> int | None:
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None:
        errors[field_name] = ["Enter a whole number."]
    elif not low <= number <= high:
        errors[field_name] = [f"Enter a number between {low:,} and {high:,}."]
    return number


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


# -- rules ------------------------------------------------------------------------------------

def save_rule(data: Mapping[str, Any], *, rule: PointRule | None = None, user=None) -> PointRule:
    """Create or change a rule; refuses bad input with ``ValidationFailed`` and changes nothing.

    ``data`` may leave out what does not change (the API's PATCH).
    """
    errors: dict[str, list[str]] = {}
    name = _name(data, rule.name if rule else "", PointRule, rule, errors, "rule")
    description = str(data.get("description", rule.description if rule else "") or "")
    if len(description) > 5000:
        errors["description"] = ["Use at most 5,000 characters."]
    event_key = str(data.get("event", rule.event if rule else "") or "").strip()
    event = registry.find(PointEvent, event_key)
    if not event_key:
        errors["event"] = ["Choose the event that scores."]
    elif event is None and not (rule and rule.event == event_key):
        errors["event"] = [f"“{event_key}” is not an event Liaison knows (its integration may be disabled)."]
    subjects = _subjects(data, rule, event, event_key, errors)
    points = _integer(data.get("points", rule.points if rule else ""), -MAX_POINTS, MAX_POINTS, "points", errors)
    if points == 0:
        errors["points"] = ["Give at least one point (or a negative number to take some)."]
    if errors:
        raise ValidationFailed(errors)
    rule = rule or PointRule(created_by=user if getattr(user, "is_authenticated", False) else None)
    rule.name, rule.description, rule.event, rule.subjects, rule.points = name, description, event_key, subjects, points
    rule.active = _bool(data.get("active", rule.active if rule.pk else True))
    rule.once_per_contact = _bool(data.get("once_per_contact", rule.once_per_contact))
    rule.updated_at = timezone.now()
    rule.save()
    return rule


def _subjects(data, rule, event, event_key, errors) -> list[str]:
    raw = data.get("subjects", rule.subjects if rule and rule.event == event_key else [])
    if raw is None:
        raw = []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, (list, tuple)) or len(raw) > MAX_SUBJECTS:
        errors["subjects"] = [f"Give a list of at most {MAX_SUBJECTS} values."]
        return []
    subjects = list(dict.fromkeys(str(v).strip() for v in raw if str(v).strip()))
    if not subjects:
        return []
    if event is not None and not event.subject:
        errors["subjects"] = [f"“{event.label}” cannot be limited: it is not about one thing or another."]
        return subjects
    kept = set(rule.subjects if rule and rule.event == event_key else [])
    new = [s for s in subjects if s not in kept]
    if event is not None and event.subject_choices is not None and new:
        known = {v for v, _ in subject_choices(event)}
        unknown = [s for s in new if s not in known]
        if unknown:
            errors["subjects"] = [f"Unknown {event.subject_label.lower()}: {', '.join(unknown[:5])}."]
    return subjects


def delete_rule(rule: PointRule) -> None:
    """Delete a rule and its award log (points already given stay with the contacts)."""
    with writegate.writer(), transaction.atomic():
        rule.delete()


def rule_rows(qs=None):
    """Rules with their award counts and last award, in one query."""
    qs = PointRule.objects.all() if qs is None else qs
    return qs.annotate(award_count=Count("awards"), last_award=Max("awards__awarded_at")).order_by("name", "id")


def describe_rule(rule: PointRule) -> str:
    event = registry.find(PointEvent, rule.event)
    what = event.label if event else rule.event
    if rule.subjects and event is not None:
        labels = dict(subject_choices(event))
        names = [labels.get(s, s) for s in rule.subjects]
        what += f" ({event.subject_label.lower()}: {', '.join(names[:3])}{'…' if len(names) > 3 else ''})"
    sign = "+" if rule.points > 0 else "−"
    return f"{sign}{abs(rule.points)} when {what[0].lower() + what[1:] if what else what}" + (
        ", once per contact" if rule.once_per_contact else "")


def rule_problem(rule: PointRule) -> str:
    if registry.find(PointEvent, rule.event) is None:
        return (f"The event “{rule.event}” is unavailable (its integration may be disabled or removed): "
                "the rule scores nothing until it is back.")
    return ""


# -- scoring ----------------------------------------------------------------------------------

@dataclass
class Candidate:
    rule: PointRule
    contact_id: int
    ref: str
    event_ref: str
    occurred_at: Any


def handle_events(events: Sequence[ContactEvent]) -> int:
    """The ``points.rules`` event consumer: score a batch of events. Returns the awards given."""
    rules: dict[str, list[PointRule]] = {}
    for rule in PointRule.objects.filter(active=True):
        rules.setdefault(rule.event, []).append(rule)
    if not rules:
        return 0
    candidates: list[Candidate] = []
    for event in events:
        matching = [r for r in rules.get(event.key, ()) if _matches(r, event)]
        for rule in matching:
            ref = ONCE if rule.once_per_contact else event.ref[:255]
            candidates += [Candidate(rule, cid, ref, event.ref[:255], event.occurred_at) for cid in event.contact_ids]
    return award(candidates)


def _matches(rule: PointRule, event: ContactEvent) -> bool:
    if not rule.subjects:
        return True
    definition = registry.find(PointEvent, event.key)
    if definition is None or not definition.subject:
        return False
    return event.subject_value(definition.subject) in set(rule.subjects)


def award(candidates: Iterable[Candidate]) -> int:
    """Insert the awards (conflicts ignored) and give the points of those inserted now."""
    unique: dict[tuple[int, int, str], Candidate] = {}
    for c in candidates:
        unique.setdefault((c.rule.pk, c.contact_id, c.ref), c)
    if not unique:
        return 0
    # Contacts deleted since the event was announced score nothing (their foreign key
    # would fail the whole dispatch at commit).
    wanted = sorted({c.contact_id for c in unique.values()})
    alive: set[int] = set()
    for start in range(0, len(wanted), CHUNK):
        alive.update(Contact.objects.filter(pk__in=wanted[start:start + CHUNK]).values_list("pk", flat=True))
    token = uuid.uuid4().hex
    now = timezone.now()
    rows = [PointAward(rule_id=c.rule.pk, contact_id=c.contact_id, ref=c.ref, event_ref=c.event_ref,
                       points=c.rule.points, awarded_at=c.occurred_at or now, batch=token)
            for c in unique.values() if c.contact_id in alive]
    if not rows:
        return 0
    PointAward.objects.bulk_create(rows, ignore_conflicts=True, batch_size=CHUNK)
    fresh = list(PointAward.objects.filter(batch=token).values_list("rule_id", "contact_id"))
    rules = {c.rule.pk: c.rule for c in unique.values()}
    apply_awards(fresh, rules)
    return len(fresh)


def apply_awards(fresh: Iterable[tuple[int, int]], rules: Mapping[int, PointRule]) -> None:
    """Give the points of new awards: one ``adjust_points`` per rule and layer.

    A contact may get several awards of one rule in a batch (several facts); ``adjust_points``
    takes a set of contacts, so the first award of each contact goes in one call, the second
    ones in the next, and so on (the timeline then names the rule once per award).
    """
    by_rule: dict[int, list[int]] = {}
    for rule_id, contact_id in fresh:
        by_rule.setdefault(rule_id, []).append(contact_id)
    for rule_id, contact_ids in sorted(by_rule.items()):
        rule = rules[rule_id]
        layers: list[list[int]] = []
        seen: dict[int, int] = {}
        for cid in contact_ids:
            depth = seen.get(cid, 0)
            seen[cid] = depth + 1
            if depth == len(layers):
                layers.append([])
            layers[depth].append(cid)
        for layer in layers:
            contacts.adjust_points(layer, rule.points, reason=rule.name, source=f"points:rule:{rule.pk}")


# -- triggers ---------------------------------------------------------------------------------

def clean_actions(raw: Any, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The actions as stored (``[{"key", "config"}]``), checked by their steps."""
    if raw is None:
        raw = []
    if not isinstance(raw, (list, tuple)):
        errors["actions"] = ["Give a list of actions."]
        return []
    if not raw:
        errors["actions"] = ["Add at least one action: what to do when a contact reaches the threshold."]
    if len(raw) > MAX_ACTIONS:
        errors["actions"] = [f"Use at most {MAX_ACTIONS} actions."]
        return []
    cleaned = []
    for i, item in enumerate(raw):
        path = f"actions.{i}"
        if not isinstance(item, Mapping):
            errors[path] = ["An action is an object with a key and a config."]
            continue
        key = str(item.get("key") or "")
        step = action_step(key)
        config = item.get("config") if item.get("config") is not None else {}
        if step is None:
            errors[f"{path}.key"] = [f"“{key}” is not an action Liaison knows (its integration may be disabled)."]
            cleaned.append({"key": key, "config": config})
            continue
        if not isinstance(config, Mapping):
            errors[f"{path}.config"] = ["The configuration must be an object."]
            continue
        try:
            model = validate_model(step.config_schema, dict(config), prefix=f"{path}.config.")
        except ValidationFailed as exc:
            for name, messages in exc.errors.items():
                errors.setdefault(name, []).extend(messages)
            cleaned.append({"key": key, "config": dict(config)})
            continue
        problems = step.check(model)
        if problems:
            errors.setdefault(path, []).extend(problems)
        cleaned.append({"key": key, "config": model.model_dump(mode="json")})
    return cleaned


def save_trigger(data: Mapping[str, Any], *, trigger: PointTrigger | None = None, user=None) -> PointTrigger:
    """Create or change a trigger; refuses bad input with ``ValidationFailed``.

    A new trigger without ``include_existing`` marks the contacts already at its threshold
    as skipped (they reached it before the trigger existed). Saving an active trigger then
    evaluates it in a job, so contacts at the threshold fire without waiting for their next
    points change.
    """
    errors: dict[str, list[str]] = {}
    name = _name(data, trigger.name if trigger else "", PointTrigger, trigger, errors, "trigger")
    description = str(data.get("description", trigger.description if trigger else "") or "")
    if len(description) > 5000:
        errors["description"] = ["Use at most 5,000 characters."]
    threshold = _integer(data.get("threshold", trigger.threshold if trigger else ""), 1, MAX_THRESHOLD, "threshold",
                         errors)
    actions = clean_actions(data.get("actions", trigger.actions if trigger else []), errors)
    if errors:
        raise ValidationFailed(errors)
    created = trigger is None
    trigger = trigger or PointTrigger(created_by=user if getattr(user, "is_authenticated", False) else None)
    trigger.name, trigger.description, trigger.threshold, trigger.actions = name, description, threshold, actions
    trigger.active = _bool(data.get("active", trigger.active if not created else True))
    if created:
        trigger.include_existing = _bool(data.get("include_existing", False))
    trigger.updated_at = timezone.now()
    with writegate.writer(), transaction.atomic():
        trigger.save()
        if created and not trigger.include_existing:
            skip_existing(trigger)
        if created:
            ensure_schedule()
        if trigger.active:
            request_evaluation(trigger, user=user)
    return trigger


def skip_existing(trigger: PointTrigger) -> int:
    """Mark the contacts at the threshold now as skipped (one INSERT ... SELECT)."""
    quote = connection.ops.quote_name
    firings, contacts_table = TriggerFiring._meta.db_table, Contact._meta.db_table
    columns = ", ".join(quote(c) for c in ("trigger_id", "contact_id", "status", "points", "results", "message",
                                           "batch", "fired_at"))
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(firings)} ({columns}) "
            f"SELECT %s, {quote('id')}, %s, {quote('points')}, '[]', %s, %s, %s FROM {quote(contacts_table)} "
            f"WHERE {quote('points')} >= %s",
            [trigger.pk, TriggerFiring.Status.SKIPPED, "Already at the threshold when the trigger was created.",
             "", connection.ops.adapt_datetimefield_value(now), trigger.threshold])
        return cursor.rowcount


def delete_trigger(trigger: PointTrigger) -> None:
    with writegate.writer(), transaction.atomic():
        trigger.delete()


SCHEDULE_NAME = "Points: evaluate triggers"


def ensure_schedule() -> None:
    """The safety net (a receiver that failed, a job lost in a crash); created with the first trigger."""
    if not Schedule.objects.filter(name=SCHEDULE_NAME).exists():
        schedules.upsert_schedule(SCHEDULE_NAME, EVALUATE_JOB, "*/15 * * * *", owner_key="points")


def request_evaluation(trigger: PointTrigger | None = None, user=None, dispatch_now: bool = True) -> Job:
    params = {"trigger_id": trigger.pk} if trigger else {}
    label = f"Evaluate the trigger “{trigger.name}”" if trigger else "Evaluate the point triggers"
    return jobs.enqueue(EVALUATE_JOB, params, label=label, user=user, dispatch_now=dispatch_now)


def _active_triggers(trigger_id: int | None = None) -> list[PointTrigger]:
    qs = PointTrigger.objects.filter(active=True)
    if trigger_id is not None:
        qs = qs.filter(pk=trigger_id)
    return [t for t in qs if t.actions]


@dataclass
class Evaluation:
    fired: int = 0
    jobs: list[int] = field(default_factory=list)

    def add(self, other: Evaluation) -> None:
        self.fired += other.fired
        self.jobs += other.jobs


def evaluate(contact_ids: Iterable[int] | None = None, triggers: Iterable[PointTrigger] | None = None,
             dispatch_now: bool = True) -> Evaluation:
    """Fire the active triggers (or those given) for contacts at their thresholds.

    With ``contact_ids`` only those contacts are looked at (after a change); otherwise all.
    Per trigger and chunk: one SELECT of the contacts at the threshold without a firing,
    one INSERT of their firings, one SELECT of those inserted, one job per 500 of them.
    """
    triggers = _active_triggers() if triggers is None else [t for t in triggers if t.active and t.actions]
    result = Evaluation()
    if not triggers:
        return result
    ids = None if contact_ids is None else sorted({int(i) for i in contact_ids})
    for trigger in triggers:
        unfired = Contact.objects.filter(points__gte=trigger.threshold).exclude(
            Exists(TriggerFiring.objects.filter(trigger=trigger, contact=OuterRef("pk"))))
        if ids is not None:
            for start in range(0, len(ids), CHUNK):
                rows = list(unfired.filter(pk__in=ids[start:start + CHUNK]).values_list("pk", "points"))
                result.add(_fire(trigger, rows, dispatch_now))
            continue
        last = 0
        while True:
            rows = list(unfired.filter(pk__gt=last).order_by("pk").values_list("pk", "points")[:CHUNK])
            if not rows:
                break
            last = rows[-1][0]
            result.add(_fire(trigger, rows, dispatch_now))
    return result


def _fire(trigger: PointTrigger, rows: list[tuple[int, int]], dispatch_now: bool) -> Evaluation:
    if not rows:
        return Evaluation()
    token = uuid.uuid4().hex
    now = timezone.now()
    created = Evaluation()
    with writegate.writer(), transaction.atomic():
        TriggerFiring.objects.bulk_create(
            [TriggerFiring(trigger=trigger, contact_id=cid, points=points, batch=token, fired_at=now)
             for cid, points in rows], ignore_conflicts=True, batch_size=CHUNK)
        fresh = list(TriggerFiring.objects.filter(batch=token).order_by("pk").values_list("pk", flat=True))
        created.fired = len(fresh)
        created.jobs = _enqueue_fire(trigger, fresh, dispatch_now)
    return created


def _enqueue_fire(trigger: PointTrigger, firing_ids: list[int], dispatch_now: bool = True) -> list[int]:
    found = []
    for start in range(0, len(firing_ids), FIRE_BATCH):
        part = firing_ids[start:start + FIRE_BATCH]
        job = jobs.enqueue(FIRE_JOB, {"trigger_id": trigger.pk, "firing_ids": part},
                           label=f"Trigger “{trigger.name}”: actions for {len(part)} contact(s)",
                           dispatch_now=dispatch_now)
        TriggerFiring.objects.filter(pk__in=part).update(job=job)
        found.append(job.pk)
    return found


def requeue_stranded(dispatch_now: bool = True) -> list[int]:
    """Open firings whose job is gone or finished (a crash): a new job for them."""
    stranded = (TriggerFiring.objects.filter(status__in=TriggerFiring.OPEN)
                .exclude(job__status__in=Job.ACTIVE).order_by("trigger_id", "pk").values_list("trigger_id", "pk"))
    by_trigger: dict[int, list[int]] = {}
    for trigger_id, pk in stranded:
        by_trigger.setdefault(trigger_id, []).append(pk)
    found = []
    for trigger in PointTrigger.objects.filter(pk__in=list(by_trigger)):
        with writegate.writer(), transaction.atomic():
            found += _enqueue_fire(trigger, by_trigger[trigger.pk], dispatch_now)
    return found


def on_contacts_changed(sender=None, contact_ids: Iterable[int] = (), **kwargs) -> None:
    """Receiver of ``contacts_changed`` (after the commit): fire the triggers they reached."""
    ids = list(contact_ids)
    if not ids:
        return
    try:
        evaluate(ids)
    except Exception:  # noqa: BLE001 - the change is committed; the schedule catches up
        logger.exception("evaluating point triggers for %s changed contacts failed", len(ids))


def run_evaluate(ctx, trigger_id: int | None = None) -> dict[str, int]:
    """The ``points.evaluate`` job: every contact against the active triggers (or one)."""
    result = evaluate(triggers=_active_triggers(trigger_id))
    requeued = requeue_stranded() if trigger_id is None else []
    ctx.log(f"{result.fired} contact(s) reached a trigger; {len(result.jobs)} job(s) run their actions.")
    if requeued:
        ctx.log(f"{len(requeued)} job(s) queued again for firings left open by an earlier run.")
    return {"fired": result.fired, "jobs": len(result.jobs), "requeued": len(requeued)}


# -- running a trigger's actions ------------------------------------------------------------------

def dedupe_key(trigger_id: int, contact_id: int, index: int) -> str:
    """Unique per trigger, contact and action (two e-mail actions must not share a send key)."""
    return f"points:trigger:{trigger_id}:contact:{contact_id}:action:{index}"


def _entry(key: str, label: str, ok: bool, message: str, *, retry: bool = False, context=None) -> dict[str, Any]:
    entry = {"key": key, "label": label, "ok": ok, "message": message}
    if retry:
        entry["retry"] = True
    if isinstance(context, dict) and context:
        entry["context"] = context
    return entry


def _pending(firing: TriggerFiring, index: int) -> bool:
    """Whether action ``index`` is still to run for this firing (an earlier failure stops it)."""
    done = firing.results[:index]
    if any(not e.get("ok") for e in done):
        return False
    return len(firing.results) <= index or bool(firing.results[index].get("retry"))


def _set(firing: TriggerFiring, index: int, entry: dict[str, Any]) -> None:
    while len(firing.results) < index:
        firing.results.append(_entry("", "", False, "Not run."))
    if len(firing.results) == index:
        firing.results.append(entry)
    else:
        firing.results[index] = entry


def _context(firing: TriggerFiring, index: int) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for entry in firing.results[:index]:
        context.update(entry.get("context") or {})
    return context


def _run_step(step: CampaignStep, config, targets: list[StepTarget]) -> list[ActionResult]:
    """The step's results for the targets; an exception other than a retryable one is a
    final failure of the whole batch, in a sentence."""
    try:
        with transaction.atomic():
            results = step.run(targets, config)
    except RetryableError:
        raise
    except (LiaisonError, ValueError) as exc:
        return [ActionResult(False, str(exc) or type(exc).__name__)] * len(targets)
    except Exception as exc:  # noqa: BLE001 - an action's bug must not lose the firing
        logger.exception("trigger action %s failed", step.key)
        return [ActionResult(False, f"Internal error in the action ({type(exc).__name__}).")] * len(targets)
    if len(results) != len(targets):
        return [ActionResult(False, f"The action returned {len(results)} results for {len(targets)} contacts.")
                ] * len(targets)
    return list(results)


def run_fire(ctx, trigger_id: int, firing_ids: list[int]) -> dict[str, int]:
    """The ``points.fire`` job: run a trigger's actions, in order, for a batch of firings."""
    trigger = PointTrigger.objects.filter(pk=trigger_id).first()
    if trigger is None:
        return {"skipped": len(firing_ids)}
    firings = list(TriggerFiring.objects.filter(pk__in=firing_ids, status__in=TriggerFiring.OPEN)
                   .select_related("contact").order_by("pk"))
    final = ctx.attempt >= ctx.job.max_attempts
    retry_message = ""
    try:
        for index, action in enumerate(trigger.actions):
            ctx.check_cancelled()
            todo = [f for f in firings if _pending(f, index)]
            if not todo:
                continue
            retry_message = _run_action(trigger, index, action, todo, final) or retry_message
            ctx.progress(index + 1, len(trigger.actions), f"{action.get('key')}: {len(todo)} contact(s)")
    except RetryableError as exc:
        retry_message = str(exc)
    finally:
        # What ran is kept even when the job stops here (a retry, a cancellation): a new
        # attempt runs only what is left.
        waiting = [f for f in firings if any(_pending(f, i) for i in range(len(trigger.actions)))]
        _finish(trigger, [f for f in firings if f not in waiting], waiting)
    done = sum(f.status == TriggerFiring.Status.SUCCEEDED for f in firings)
    failed = sum(f.status == TriggerFiring.Status.FAILED for f in firings)
    ctx.log(f"{done} done, {failed} failed, {len(waiting)} to try again.")
    if waiting:
        raise RetryableError(f"{len(waiting)} contact(s) to try again: {retry_message or 'the actions were stopped'}")
    return {"done": done, "failed": failed, "waiting": 0}


def _label(action: Mapping[str, Any]) -> str:
    step = action_step(str(action.get("key", "")))
    return step.label if step else str(action.get("key", ""))


def _run_action(trigger: PointTrigger, index: int, action: Mapping[str, Any], todo: list[TriggerFiring],
                final: bool) -> str:
    """Run one action for the firings that reached it; returns a retry message, if any."""
    key = str(action.get("key", ""))
    step = action_step(key)
    if step is None:
        for f in todo:
            _set(f, index, _entry(key, key, False,
                                  f"The action “{key}” is unavailable (its integration may be disabled or removed)."))
        return ""
    reason = step.unavailable_reason()
    if reason:
        for f in todo:
            _set(f, index, _entry(key, step.label, False, reason, retry=not final))
        return "" if final else reason
    try:
        config = step.parse(action.get("config"))
    except PydanticValidationError as exc:
        for f in todo:
            _set(f, index, _entry(key, step.label, False, f"The action's settings are no longer valid: {exc}"))
        return ""
    retry_message = ""
    for start in range(0, len(todo), step.batch_size):
        part = todo[start:start + step.batch_size]
        targets = [StepTarget(contact=f.contact, dedupe_key=dedupe_key(trigger.pk, f.contact_id, index),
                              context=_context(f, index), source="points") for f in part]
        try:
            results = _run_step(step, config, targets)
        except RetryableError as exc:
            if not final:
                for f in part:
                    _set(f, index, _entry(key, step.label, False, str(exc), retry=True))
                raise
            results = [ActionResult(False, f"{exc} (gave up after several attempts)")] * len(part)
        for f, result in zip(part, results, strict=True):
            retry = bool(result.retry and not result.ok)
            message = result.message or ("Done." if result.ok else "Failed.")
            if retry and final:
                message, retry = f"{message} (gave up after several attempts)", False
            if retry:
                retry_message = message
            _set(f, index, _entry(key, step.label, result.ok, message, retry=retry,
                                  context=(result.data or {}).get("context")))
    return retry_message


def _outcome(firing: TriggerFiring) -> tuple[str, str]:
    failed = [e for e in firing.results if not e.get("ok")]
    if not failed:
        return TriggerFiring.Status.SUCCEEDED, f"{len(firing.results)} action(s) done."
    first = failed[0]
    return TriggerFiring.Status.FAILED, f"{first.get('label') or first.get('key')} failed: {first.get('message')}"


def _finish(trigger: PointTrigger, finished: list[TriggerFiring], waiting: list[TriggerFiring]) -> None:
    now = timezone.now()
    for f in finished:
        f.status, f.message = _outcome(f)
        f.finished_at = now
    for f in waiting:
        f.status = TriggerFiring.Status.RETRYING
        f.message = next((e.get("message", "") for e in f.results if e.get("retry")),
                         "Waiting to run the remaining actions.")
    rows = [(f.status, f.results, f.message, f.finished_at, f.pk) for f in [*finished, *waiting]]
    with writegate.writer(), transaction.atomic():
        update_rows(TriggerFiring, ("status", "results", "message", "finished_at"), rows)
        contacts.record_activities(contacts.ActivityInput(
            f.contact_id, TIMELINE_KIND, now,
            f"Trigger “{trigger.name}”: {'done' if f.status == TriggerFiring.Status.SUCCEEDED else 'failed'}"[:300],
            f"{TIMELINE_KIND}:{f.pk}:{f.status}",
            {"summary": "; ".join(f"{e.get('label') or e.get('key')}: {e.get('message')}" for e in f.results),
             "trigger_id": trigger.pk, "firing_id": f.pk, "url": f"/points/triggers/{trigger.pk}/"},
            "points") for f in finished)


def firing_rows(trigger: PointTrigger, status: str = "", q: str = ""):
    qs = trigger.firings.select_related("contact")
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(contact__email_key__contains=q.lower())
    return qs


def firing_counts(trigger_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """{trigger id: {status: count, "waiting": queued + retrying}}, in one query."""
    found: dict[int, dict[str, int]] = {}
    rows = (TriggerFiring.objects.filter(trigger_id__in=list(trigger_ids)).values("trigger_id", "status")
            .annotate(n=Count("pk")).values_list("trigger_id", "status", "n"))
    for trigger_id, status, n in rows:
        counts = found.setdefault(trigger_id, {})
        counts[status] = n
        if status in TriggerFiring.OPEN:
            counts["waiting"] = counts.get("waiting", 0) + n
    return found


def contact_points(contact: Contact) -> dict[str, Any]:
    """What the contact page shows: the last awards, the triggers reached, the next threshold."""
    reached = list(TriggerFiring.objects.filter(contact=contact).select_related("trigger")[:10])
    upcoming = (PointTrigger.objects.filter(active=True, threshold__gt=contact.points)
                .exclude(pk__in=TriggerFiring.objects.filter(contact=contact).values("trigger_id"))
                .order_by("threshold", "pk").first())
    return {"awards": list(PointAward.objects.filter(contact=contact).select_related("rule")[:5]),
            "firings": reached, "next_trigger": upcoming,
            "to_next": upcoming.threshold - contact.points if upcoming else None}


def describe_actions(actions: list[Mapping[str, Any]]) -> list[str]:
    lines = []
    for action in actions or []:
        step = action_step(str(action.get("key", "")))
        if step is None:
            lines.append(f"{action.get('key')} (unavailable)")
            continue
        try:
            lines.append(step.summary(step.parse(action.get("config"))))
        except PydanticValidationError:
            lines.append(f"{step.label} (settings no longer valid)")
    return lines

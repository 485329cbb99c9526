"""Editing campaigns: sources, the step tree, publishing; the tree and its statistics.

The API and the builder both go through these functions; bad input raises
``ValidationFailed`` with messages per field (``{"config.email": [...]}``), so the builder
shows them next to the inputs and the API answers 422. Running campaigns is in
``liaison.campaigns.executor``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from liaison.campaigns.models import Campaign, Enrollment, Step, StepRun
from liaison.core.bulk import update_rows
from liaison.core.contributions import Audience, CampaignStep
from liaison.core.errors import LiaisonError, ValidationFailed
from liaison.core.registry import registry
from liaison.core.schema import describe, field_errors

RUN_JOB = "campaigns.run"
MAX_DELAY = {"minutes": 60 * 24 * 366, "hours": 24 * 366 * 5, "days": 366 * 5}
BRANCHES = {"action": ("",), "condition": ("yes", "no"), "decision": ("yes", "no")}


# -- the registry --------------------------------------------------------------------------

def step_type(key: str) -> CampaignStep | None:
    return registry.find(CampaignStep, key)


def parse_config(definition: CampaignStep, raw: Mapping[str, Any] | None, prefix: str = "config.") -> BaseModel:
    """The validated config of a step, or ``ValidationFailed`` (``config.<setting>`` and ``config``)."""
    try:
        config = definition.parse(raw)
    except PydanticValidationError as exc:
        raise ValidationFailed(field_errors(exc, prefix)) from None
    problems = definition.check(config)
    if problems:
        raise ValidationFailed({prefix.rstrip("."): list(problems)})
    return config


def catalogue() -> list[dict[str, Any]]:
    """Every registered step, for the builder and the API (config settings with their choices)."""
    found = []
    for step in sorted(registry.all(CampaignStep), key=lambda s: (s.step_kind, s.group, s.label)):
        fields = []
        for setting in describe(step.config_schema):
            choices = step.config_choices(setting.name)
            item = dict(setting.__dict__)
            item["choices"] = [tuple(c) for c in (choices if choices is not None else setting.choices)]
            fields.append(item)
        found.append({"key": step.key, "label": step.label, "kind": step.step_kind, "group": step.group,
                      "description": step.description, "can_start": step.can_start, "idempotent": step.idempotent,
                      "events": list(step.events), "unavailable": step.unavailable_reason() or "",
                      "config": fields})
    return found


# -- campaigns -----------------------------------------------------------------------------

def _clean_audiences(raw: Any, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.setdefault("audiences", []).append("A list of {key, values}.")
        return []
    cleaned = []
    for index, item in enumerate(raw):
        name = f"audiences.{index}"
        if not isinstance(item, Mapping):
            errors.setdefault(name, []).append("An audience is {key, values}.")
            continue
        key = str(item.get("key") or "")
        if registry.find(Audience, key) is None:
            errors.setdefault(f"{name}.key", []).append(f"There is no audience {key!r}.")
            continue
        values = item.get("values") or []
        if isinstance(values, (str, int)):
            values = [values]
        values = [str(v) for v in values if str(v).strip()]
        if not values:
            errors.setdefault(f"{name}.values", []).append("Choose at least one.")
            continue
        cleaned.append({"key": key, "values": values})
    return cleaned


def _clean_starts(raw: Any, errors: dict[str, list[str]]) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.setdefault("starts", []).append("A list of {key, config}.")
        return []
    cleaned = []
    for index, item in enumerate(raw):
        name = f"starts.{index}"
        if not isinstance(item, Mapping):
            errors.setdefault(name, []).append("A start is {key, config}.")
            continue
        key = str(item.get("key") or "")
        definition = step_type(key)
        if definition is None or not definition.can_start:
            errors.setdefault(f"{name}.key", []).append(f"{key!r} is not an event that can start a campaign.")
            continue
        try:
            config = parse_config(definition, item.get("config"), prefix=f"{name}.config.")
        except ValidationFailed as exc:
            for field, messages in exc.errors.items():
                errors.setdefault(field, []).extend(messages)
            continue
        cleaned.append({"key": key, "config": config.model_dump(mode="json")})
    return cleaned


def save_campaign(data: Mapping[str, Any], campaign: Campaign | None = None, user=None) -> Campaign:
    """Create (``campaign=None``) or update a campaign from ``name``, ``description``,
    ``reentry``, ``audiences`` and ``starts`` (keys left out keep their value)."""
    errors: dict[str, list[str]] = {}
    creating = campaign is None
    campaign = campaign or Campaign(created_by=user if getattr(user, "is_authenticated", False) else None)
    if "name" in data or creating:
        name = str(data.get("name") or "").strip()
        if not name:
            errors["name"] = ["Give the campaign a name."]
        elif len(name) > 200:
            errors["name"] = ["At most 200 characters."]
        campaign.name = name
    if "description" in data:
        campaign.description = str(data.get("description") or "")
    if "reentry" in data:
        reentry = data.get("reentry") or Campaign.Reentry.NEVER
        if reentry not in Campaign.Reentry.values:
            errors["reentry"] = [f"One of: {', '.join(Campaign.Reentry.values)}."]
        else:
            campaign.reentry = reentry
    if "exit_on_leave" in data:
        campaign.exit_on_leave = bool(data.get("exit_on_leave"))
    if "audiences" in data:
        campaign.audiences = _clean_audiences(data.get("audiences"), errors)
    if "starts" in data:
        campaign.starts = _clean_starts(data.get("starts"), errors)
    if errors:
        raise ValidationFailed(errors)
    if campaign.is_published and not (campaign.audiences or campaign.starts):
        raise ValidationFailed({"audiences": ["A published campaign needs a source: pause it first to remove them."]})
    campaign.updated_at = timezone.now()
    campaign.save()
    return campaign


def create_campaign(data: Mapping[str, Any], user=None) -> Campaign:
    return save_campaign(data, None, user)


def update_campaign(campaign: Campaign, data: Mapping[str, Any]) -> Campaign:
    return save_campaign(data, campaign)


def delete_campaign(campaign: Campaign) -> None:
    campaign.delete()


def describe_sources(campaign: Campaign) -> list[str]:
    """Each source in a sentence ("Segments: Newsletter", "Submits form “Contact us”")."""
    lines = []
    for item in campaign.audiences or []:
        audience = registry.find(Audience, item.get("key", ""))
        lines.append(audience.describe(item.get("values") or []) if audience
                     else f"Unknown audience {item.get('key')!r}")
    for item in campaign.starts or []:
        lines.append(summarize(item.get("key", ""), item.get("config") or {}))
    return lines


# -- steps ---------------------------------------------------------------------------------

def _int(value: Any, name: str, errors: dict[str, list[str]]) -> int:
    try:
        number = int(value or 0)
    except (TypeError, ValueError):
        errors.setdefault(name, []).append("A whole number.")
        return 0
    if number < 0:
        errors.setdefault(name, []).append("Zero or more.")
    return number


def _timing(step: Step, data: Mapping[str, Any], errors: dict[str, list[str]]) -> None:
    """Delay (actions, conditions) and timeout (decisions) from ``data`` onto ``step``."""
    if "delay" in data:
        step.delay = data.get("delay") or Step.Delay.NONE
    if "delay_amount" in data:
        step.delay_amount = _int(data.get("delay_amount"), "delay_amount", errors)
    if "delay_unit" in data:
        step.delay_unit = data.get("delay_unit") or Step.Unit.DAYS
    if "delay_until" in data:
        until = data.get("delay_until")
        if isinstance(until, str):
            parsed = parse_datetime(until) if until else None
            if until and parsed is None:
                errors.setdefault("delay_until", []).append("A date and time, e.g. 2026-12-24 09:00.")
            until = parsed
        if isinstance(until, datetime) and timezone.is_naive(until):
            until = timezone.make_aware(until, timezone.get_current_timezone())
        step.delay_until = until or None
    if "timeout_amount" in data:
        step.timeout_amount = _int(data.get("timeout_amount"), "timeout_amount", errors)
    if "timeout_unit" in data:
        step.timeout_unit = data.get("timeout_unit") or Step.Unit.DAYS

    if step.delay not in Step.Delay.values:
        errors.setdefault("delay", []).append(f"One of: {', '.join(Step.Delay.values)}.")
    for name in ("delay_unit", "timeout_unit"):
        if getattr(step, name) not in Step.Unit.values:
            errors.setdefault(name, []).append("Minutes, hours or days.")
    if step.step_kind == Step.Kind.DECISION and step.delay != Step.Delay.NONE:
        errors.setdefault("delay", []).append("A decision starts waiting when the contact reaches it; "
                                              "set how long it waits (the timeout) instead of a delay.")
    if step.step_kind != Step.Kind.DECISION and step.timeout_amount:
        errors.setdefault("timeout_amount", []).append("Only decisions wait for an event.")
    if step.delay == Step.Delay.RELATIVE:
        if not step.delay_amount:
            errors.setdefault("delay_amount", []).append("How long to wait (1 or more).")
        elif step.delay_unit in MAX_DELAY and step.delay_amount > MAX_DELAY[step.delay_unit]:
            errors.setdefault("delay_amount", []).append("At most five years.")
    if step.delay == Step.Delay.UNTIL and not step.delay_until and "delay_until" not in errors:
        errors.setdefault("delay_until", []).append("Choose the date and time.")
    if step.timeout_unit in MAX_DELAY and step.timeout_amount > MAX_DELAY[step.timeout_unit]:
        errors.setdefault("timeout_amount", []).append("At most five years.")
    if step.delay != Step.Delay.RELATIVE:
        step.delay_amount = 0
    if step.delay != Step.Delay.UNTIL:
        step.delay_until = None


def _parent(campaign: Campaign, value: Any, errors: dict[str, list[str]]) -> Step | None:
    if value in (None, "", 0):
        return None
    if isinstance(value, Step):
        parent = value if value.campaign_id == campaign.pk else None
    else:
        parent = Step.objects.filter(campaign=campaign, pk=value).first() if str(value).isdigit() else None
    if parent is None:
        errors.setdefault("parent", []).append("That step is not in this campaign.")
    return parent


def _check_branch(parent: Step | None, branch: str, errors: dict[str, list[str]]) -> None:
    allowed = BRANCHES[parent.step_kind] if parent else ("",)
    if branch not in allowed:
        if parent is None:
            errors.setdefault("branch", []).append("A first step has no branch.")
        elif parent.step_kind == Step.Kind.ACTION:
            errors.setdefault("branch", []).append("Steps after an action have no branch.")
        else:
            errors.setdefault("branch", []).append("Choose the yes or the no branch.")


def _siblings(campaign: Campaign, parent: Step | None, branch: str):
    return Step.objects.filter(campaign=campaign, parent=parent, branch=branch)


def _place(step: Step, position: Any) -> None:
    """Put ``step`` at index ``position`` among its siblings (None: last); the others are
    numbered around it (0, 1, 2 ...)."""
    others = list(_siblings(step.campaign, step.parent, step.branch).exclude(pk=step.pk)
                  .order_by("position", "id").values_list("pk", "position"))
    try:
        index = len(others) if position in (None, "") else max(0, min(int(position), len(others)))
    except (TypeError, ValueError):
        index = len(others)
    step.position = index
    _write_positions([(pk, i if i < index else i + 1, old) for i, (pk, old) in enumerate(others)])


def _renumber(campaign: Campaign, parent_id: int | None, branch: str) -> None:
    rows = list(Step.objects.filter(campaign=campaign, parent_id=parent_id, branch=branch)
                .order_by("position", "id").values_list("pk", "position"))
    _write_positions([(pk, i, old) for i, (pk, old) in enumerate(rows)])


def _write_positions(rows: list[tuple[int, int, int]]) -> None:
    """``(pk, new, old)``: one executemany for the positions that change."""
    changed = [(new, pk) for pk, new, old in rows if new != old]
    if changed:
        update_rows(Step, ["position"], changed)


def _touch(campaign: Campaign) -> None:
    Campaign.objects.filter(pk=campaign.pk).update(updated_at=timezone.now())


@transaction.atomic
def add_step(campaign: Campaign, data: Mapping[str, Any]) -> Step:
    """Add a step: ``key`` (a registry step), ``parent`` (a step id, none for a first step),
    ``branch`` ("" after an action, "yes"/"no" under a condition or decision), ``position``
    (None: last), ``name``, ``config``, ``delay``/``delay_amount``/``delay_unit``/``delay_until``,
    ``timeout_amount``/``timeout_unit``."""
    errors: dict[str, list[str]] = {}
    key = str(data.get("key") or "")
    definition = step_type(key)
    if definition is None:
        raise ValidationFailed({"key": [f"There is no campaign step {key!r}."]})
    parent = _parent(campaign, data.get("parent"), errors)
    branch = str(data.get("branch") or "")
    if "parent" not in errors:
        _check_branch(parent, branch, errors)
    step = Step(campaign=campaign, parent=parent, branch=branch, key=key, step_kind=definition.step_kind,
                name=str(data.get("name") or "")[:200])
    _timing(step, data, errors)
    try:
        step.config = parse_config(definition, data.get("config")).model_dump(mode="json")
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    _place(step, data.get("position"))
    step.save()
    _touch(campaign)
    return step


@transaction.atomic
def update_step(step: Step, data: Mapping[str, Any]) -> Step:
    """Change a step's ``key`` (same kind only: its branches stay), ``name``, ``config``,
    delay or timeout; keys left out keep their value."""
    errors: dict[str, list[str]] = {}
    if "key" in data and data.get("key") != step.key:
        definition = step_type(str(data.get("key") or ""))
        if definition is None:
            raise ValidationFailed({"key": [f"There is no campaign step {data.get('key')!r}."]})
        if definition.step_kind != step.step_kind:
            message = (f"A {step.step_kind} can only be replaced by another {step.step_kind} "
                       "(its following steps depend on it).")
            raise ValidationFailed({"key": [message]})
        step.key = definition.key
    definition = step_type(step.key)
    if definition is None:
        raise ValidationFailed({"key": [f"The step {step.key!r} is no longer available: replace or delete it."]})
    if "name" in data:
        step.name = str(data.get("name") or "")[:200]
    _timing(step, data, errors)
    if "config" in data or "key" in data:
        try:
            step.config = parse_config(definition, data.get("config", step.config)).model_dump(mode="json")
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    step.updated_at = timezone.now()
    step.save()
    _touch(step.campaign)
    return step


@transaction.atomic
def delete_step(step: Step) -> None:
    """Delete a step with the steps under it (and what they did: their statistics)."""
    from liaison.campaigns.executor import complete_finished

    campaign, parent_id, branch = step.campaign, step.parent_id, step.branch
    removed = [step.pk, *_descendant_ids(step)]
    waiting_here = list(StepRun.objects.filter(step_id__in=removed, status__in=StepRun.OPEN)
                        .values_list("enrollment_id", flat=True).distinct().order_by())
    step.delete()
    # Contacts who were only waiting at the removed steps have nothing left to do.
    complete_finished(waiting_here, timezone.now())
    _renumber(campaign, parent_id, branch)
    _touch(campaign)


def _descendant_ids(step: Step) -> set[int]:
    rows = list(Step.objects.filter(campaign_id=step.campaign_id).values_list("pk", "parent_id"))
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in rows:
        children.setdefault(parent_id, []).append(pk)
    found, todo = set(), [step.pk]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


@transaction.atomic
def move_step(step: Step, parent: Any = None, branch: str = "", position: Any = None) -> Step:
    """Move a step (with the steps under it) to another place of the tree."""
    errors: dict[str, list[str]] = {}
    new_parent = _parent(step.campaign, parent, errors)
    if new_parent is not None and (new_parent.pk == step.pk or new_parent.pk in _descendant_ids(step)):
        errors.setdefault("parent", []).append("A step cannot move under itself.")
    branch = branch or ""
    if "parent" not in errors:
        _check_branch(new_parent, branch, errors)
    if errors:
        raise ValidationFailed(errors)
    old_parent_id, old_branch = step.parent_id, step.branch
    step.parent, step.branch = new_parent, branch
    _place(step, position)
    step.updated_at = timezone.now()
    step.save(update_fields=["parent", "branch", "position", "updated_at"])
    if (old_parent_id, old_branch) != (step.parent_id, step.branch):
        _renumber(step.campaign, old_parent_id, old_branch)
    _touch(step.campaign)
    return step


# -- publishing ----------------------------------------------------------------------------

def publish_problems(campaign: Campaign) -> dict[str, list[str]]:
    """Why the campaign cannot run, per place (``sources``, ``steps``, ``step.<id>``); empty when it can."""
    problems: dict[str, list[str]] = {}
    if not (campaign.audiences or campaign.starts):
        problems["sources"] = ["Choose where contacts come from: an audience (segments) or an event (a form)."]
    for item in campaign.audiences or []:
        if registry.find(Audience, item.get("key", "")) is None:
            problems.setdefault("sources", []).append(f"The audience {item.get('key')!r} is no longer available.")
    for item in campaign.starts or []:
        definition = step_type(item.get("key", ""))
        if definition is None or not definition.can_start:
            problems.setdefault("sources", []).append(f"The start event {item.get('key')!r} is no longer available.")
            continue
        reason = definition.unavailable_reason()
        if reason:
            problems.setdefault("sources", []).append(f"{definition.label}: {reason}")
        try:
            parse_config(definition, item.get("config"))
        except ValidationFailed as exc:
            problems.setdefault("sources", []).append(f"{definition.label}: {exc}")
    steps = list(campaign.steps.all())
    if not steps:
        problems["steps"] = ["Add at least one step."]
    for step in steps:
        definition = step_type(step.key)
        name = f"step.{step.pk}"
        if definition is None:
            problems.setdefault(name, []).append(f"Unknown step {step.key!r} (its app or integration is not installed).")
            continue
        if definition.step_kind != step.step_kind:
            problems.setdefault(name, []).append(f"{definition.label} is now a {definition.step_kind}; replace it.")
        reason = definition.unavailable_reason()
        if reason:
            problems.setdefault(name, []).append(f"{definition.label}: {reason}")
        try:
            parse_config(definition, step.config)
        except ValidationFailed as exc:
            problems.setdefault(name, []).append(f"{definition.label}: {exc}")
    return problems


def _request_run(campaign: Campaign) -> None:
    transaction.on_commit(lambda: run_now(campaign))


@transaction.atomic
def publish(campaign: Campaign) -> Campaign:
    problems = publish_problems(campaign)
    if problems:
        raise ValidationFailed(problems, message="The campaign cannot be published: "
                               + " ".join(m for ms in problems.values() for m in ms))
    now = timezone.now()
    campaign.status = Campaign.Status.PUBLISHED
    campaign.published_at = campaign.published_at or now
    campaign.updated_at = now
    campaign.save(update_fields=["status", "published_at", "updated_at"])
    _request_run(campaign)
    return campaign


def pause(campaign: Campaign) -> Campaign:
    """Stop running steps; contacts stay where they are (decisions keep their deadlines)."""
    if campaign.status != Campaign.Status.PUBLISHED:
        raise LiaisonError("Only a published campaign can be paused.")
    campaign.status = Campaign.Status.PAUSED
    campaign.updated_at = timezone.now()
    campaign.save(update_fields=["status", "updated_at"])
    return campaign


def resume(campaign: Campaign) -> Campaign:
    if campaign.status != Campaign.Status.PAUSED:
        raise LiaisonError("Only a paused campaign can be resumed.")
    return publish(campaign)


def run_now(campaign: Campaign | None = None, user=None, dispatch_now: bool = True):
    """Queue the executor for one campaign (or all published ones); returns the job."""
    from liaison.core import jobs

    if campaign is not None and not campaign.is_published:
        raise LiaisonError("Publish the campaign first: only published campaigns run.")
    params = {"campaign_id": campaign.pk} if campaign else {}
    label = f"Run campaign “{campaign.name}”" if campaign else "Run campaigns"
    return jobs.enqueue(RUN_JOB, params, label=label, user=user, dispatch_now=dispatch_now)


def stop_enrollments(campaign: Campaign, contact_ids) -> int:
    """Take contacts out of a campaign: their runs in progress are skipped. Returns how many."""
    from liaison.campaigns.executor import stop

    ids = Enrollment.objects.filter(campaign=campaign, contact_id__in=list(contact_ids),
                                    status=Enrollment.Status.ACTIVE).values_list("pk", flat=True)
    return stop(list(ids), timezone.now(), "Taken out of the campaign.")


# -- the tree and its statistics -----------------------------------------------------------

def summarize(key: str, config: Mapping[str, Any]) -> str:
    definition = step_type(key)
    if definition is None:
        return f"Unknown step {key!r}"
    try:
        return definition.summary(definition.parse(config))
    except PydanticValidationError:
        return f"{definition.label} (its settings need attention)"
    except Exception:  # noqa: BLE001 - a summary reads other apps' data; never break the builder
        return definition.label


def step_stats(campaign: Campaign) -> dict[int, dict[str, int]]:
    """Per step: how many runs by status, by branch taken ("yes"/"no") and in all (one query)."""
    stats: dict[int, dict[str, int]] = {}
    rows = (StepRun.objects.filter(campaign=campaign).values("step_id", "status", "branch")
            .annotate(n=Count("id")).order_by())
    for row in rows:
        entry = stats.setdefault(row["step_id"], empty_stats())
        entry[row["status"]] += row["n"]
        entry["total"] += row["n"]
        if row["branch"] in ("yes", "no"):
            entry[row["branch"]] += row["n"]
    return stats


def empty_stats() -> dict[str, int]:
    return dict.fromkeys([*StepRun.Status.values, "yes", "no", "total"], 0)


def enrollment_stats(campaign: Campaign) -> dict[str, int]:
    counts = dict.fromkeys(Enrollment.Status.values, 0)
    for row in campaign.enrollments.values("status").annotate(n=Count("id")).order_by():
        counts[row["status"]] = row["n"]
    counts["total"] = sum(counts.values())
    counts["contacts"] = campaign.enrollments.values("contact_id").distinct().count() if counts["total"] else 0
    return counts


def node(step: Step, stats: Mapping[int, Mapping[str, int]] | None = None) -> dict[str, Any]:
    """One step as plain data (without its children)."""
    definition = step_type(step.key)
    return {
        "id": step.pk, "parent": step.parent_id, "branch": step.branch, "position": step.position,
        "kind": step.step_kind, "key": step.key, "name": step.name,
        "label": definition.label if definition else step.key,
        "group": definition.group if definition else "",
        "summary": step.name or summarize(step.key, step.config),
        "config": step.config, "delay": step.delay, "delay_amount": step.delay_amount, "delay_unit": step.delay_unit,
        "delay_until": step.delay_until, "delay_text": step.describe_delay(),
        "timeout_amount": step.timeout_amount, "timeout_unit": step.timeout_unit,
        "timeout_text": step.describe_timeout(),
        "unavailable": ("This step's app or integration is not installed." if definition is None
                        else definition.unavailable_reason() or ""),
        "stats": dict((stats or {}).get(step.pk) or empty_stats()),
    }


def campaign_tree(campaign: Campaign, with_stats: bool = True) -> list[dict[str, Any]]:
    """The steps as a tree: the first steps, each with ``children`` (each child says its
    ``branch``), in order; every node has its summary and statistics. Two queries."""
    stats = step_stats(campaign) if with_stats else {}
    steps = list(Step.objects.filter(campaign=campaign).order_by("position", "id"))
    nodes = {s.pk: {**node(s, stats), "children": []} for s in steps}
    roots = []
    order = {"": 0, "yes": 1, "no": 2}
    for step in sorted(steps, key=lambda s: (order.get(s.branch, 3), s.position, s.pk)):
        target = nodes[step.parent_id]["children"] if step.parent_id in nodes else roots
        target.append(nodes[step.pk])
    return roots


def next_position(campaign: Campaign, parent: Step | None, branch: str) -> int:
    top = _siblings(campaign, parent, branch).aggregate(m=Max("position"))["m"]
    return 0 if top is None else top + 1


# -- for the pages -------------------------------------------------------------------------

def enrolled_counts(campaign_ids) -> dict[int, dict[str, int]]:
    """Per campaign: contacts enrolled (distinct) and enrollments in progress (one query)."""
    from django.db.models import Q

    counts = {pk: {"contacts": 0, "active": 0} for pk in campaign_ids}
    rows = (Enrollment.objects.filter(campaign_id__in=list(counts)).values("campaign_id")
            .annotate(contacts=Count("contact_id", distinct=True),
                      active=Count("id", filter=Q(status=Enrollment.Status.ACTIVE))).order_by())
    for row in rows:
        counts[row["campaign_id"]] = {"contacts": row["contacts"], "active": row["active"]}
    return counts


def last_run_job(campaign: Campaign):
    """The latest executor job that ran (or will run) this campaign: its own or the every-minute one."""
    from django.db.models import Q

    from liaison.core.models import Job

    return (Job.objects.filter(kind=RUN_JOB).filter(Q(params__campaign_id=campaign.pk) | Q(params={}))
            .order_by("-created_at", "-id").first())

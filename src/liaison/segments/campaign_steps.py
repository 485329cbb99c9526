"""The segments app's campaign steps: add to / remove from a segment, "is in segment" and
"contact field value" (the segment filters' own operators, so both read the same)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef
from pydantic import BaseModel, ConfigDict, Field

from liaison.core.contributions import ActionResult, CampaignStep
from liaison.core.contributions.segments import OPERATORS
from liaison.segments import filters as engine
from liaison.segments import services
from liaison.segments.models import Membership, Segment


class SegmentsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    segments: list[int] = Field(..., min_length=1, title="Segments")


class FieldValueConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(..., min_length=1, title="Field")
    operator: str = Field(..., min_length=1, title="Operator",
                          description="eq, neq, contains, starts, ends, empty, not_empty, gt, lt, ...")
    value: str = Field("", max_length=500, title="Value",
                       description=("Leave empty for “is empty”; separate values with commas for “is one of”, "
                                    "and the two ends for “between”."))


def _segment_choices() -> list[tuple[str, str]]:
    return [(str(s.pk), s.name) for s in services.segments_by_name()]


def _segment_names(ids) -> str:
    names = dict(Segment.objects.filter(pk__in=list(ids)).values_list("pk", "name"))
    return ", ".join(f"“{names.get(i, f'#{i} (deleted)')}”" for i in ids)


def _missing(ids) -> list[str]:
    found = set(Segment.objects.filter(pk__in=list(ids)).values_list("pk", flat=True))
    return [f"Segment #{i} does not exist (any more)." for i in ids if i not in found]


@dataclass(eq=False, repr=False)
class StaticAction(CampaignStep):
    """Adds (or removes) the batch by hand: it takes precedence over the segments' filters."""

    included: bool = True

    def run(self, targets, config: SegmentsConfig):
        ids = [t.contact.pk for t in targets]
        segments = list(Segment.objects.filter(pk__in=config.segments))
        if not segments:
            return [ActionResult(False, "The segments were deleted.") for _ in targets]
        changed_in: dict[int, list[int]] = {}  # contact -> segments it joined (or left) now
        for segment in segments:
            for contact_id in services.set_static(segment, ids, self.included, origin="action",
                                                  source=targets[0].source):
                changed_in.setdefault(contact_id, []).append(segment.pk)
        words, unchanged = ("Added to", "Already in") if self.included else ("Removed from", "Was not in")
        names = {s.pk: f"“{s.name}”" for s in segments}
        results = []
        for contact_id in ids:
            done = changed_in.get(contact_id, [])
            parts = [f"{words} {', '.join(names[pk] for pk in done)}"] if done else []
            if rest := [names[pk] for pk in names if pk not in done]:
                parts.append(f"{unchanged.lower() if parts else unchanged} {', '.join(rest)}")
            results.append(ActionResult(True, "; ".join(parts) + "."))
        return results

    def check(self, config: SegmentsConfig):
        return _missing(config.segments)

    def config_choices(self, name):
        return _segment_choices() if name == "segments" else None

    def summary(self, config: SegmentsConfig):
        return f"{'Add to' if self.included else 'Remove from'} {_segment_names(config.segments)}"


@dataclass(eq=False, repr=False)
class InSegment(CampaignStep):
    def to_q(self, config: SegmentsConfig, campaign_id=None):
        return Exists(Membership.objects.filter(contact=OuterRef("pk"), segment_id__in=config.segments))

    def check(self, config: SegmentsConfig):
        return _missing(config.segments)

    def config_choices(self, name):
        return _segment_choices() if name == "segments" else None

    def summary(self, config: SegmentsConfig):
        return f"Is in {_segment_names(config.segments)}"


def _value(config: FieldValueConfig) -> Any:
    """The typed text as the operator takes it (none, one, a list, a range, days)."""
    arity = OPERATORS[config.operator].arity if config.operator in OPERATORS else "one"
    text = config.value.strip()
    if arity == "none":
        return None
    if arity in ("many", "range"):
        return [part.strip() for part in text.split(",") if part.strip()]
    if arity == "days":
        return int(text) if text.isdigit() else text
    return text


def _field_filters() -> dict[str, engine.FieldFilter]:
    return {key: flt for key, flt in engine.catalogue().items() if isinstance(flt, engine.FieldFilter)}


@dataclass(eq=False, repr=False)
class FieldValue(CampaignStep):
    """A contact or company field compared like a segment's condition on it."""

    def _condition(self, config: FieldValueConfig) -> tuple[dict | None, list[str]]:
        tree = {"match": "all", "rules": [{"filter": config.field, "operator": config.operator,
                                           "value": _value(config)}]}
        cleaned, errors = engine.clean_tree(tree, _field_filters())
        messages = [m for found in errors.values() for m in found]
        return (cleaned if not messages else None), messages

    def to_q(self, config: FieldValueConfig, campaign_id=None):
        cleaned, messages = self._condition(config)
        if cleaned is None:
            raise ValueError(" ".join(messages))
        return engine.compile_tree(cleaned, _field_filters())

    def check(self, config: FieldValueConfig):
        return self._condition(config)[1]

    def config_choices(self, name):
        if name == "field":
            return [(key, f"{flt.group}: {flt.label}") for key, flt in _field_filters().items()]
        if name == "operator":
            return [(key, op.label) for key, op in OPERATORS.items() if op.arity != "period"]
        return None

    def summary(self, config: FieldValueConfig):
        filters = _field_filters()
        cleaned, _ = self._condition(config)
        return engine.describe(cleaned, filters) if cleaned else f"{config.field} {config.operator} {config.value}"


def campaign_steps() -> list[CampaignStep]:
    group = "Segments"
    return [
        StaticAction(key="segments.add", label="Add to segment", group=group, config_schema=SegmentsConfig,
                     batch_size=500, idempotent=True, included=True),
        StaticAction(key="segments.remove", label="Remove from segment", group=group, config_schema=SegmentsConfig,
                     batch_size=500, idempotent=True, included=False),
        InSegment(key="segments.member", label="Is in segment", step_kind="condition", group=group,
                  config_schema=SegmentsConfig, description="Yes when the contact is in one of these segments."),
        FieldValue(key="segments.field_value", label="Contact field value", step_kind="condition", group="Contacts",
                   config_schema=FieldValueConfig,
                   description="Compares a contact or company field, with the operators segments use."),
    ]

"""Segments as an audience: what segment e-mails are sent to and campaigns start from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Subquery

from liaison.core.contributions import Audience, ChoicePage
from liaison.segments.filters import segment_choices, segment_labels
from liaison.segments.models import Membership, Segment

KEY = "segments.segment"


def segment_ids(values: Sequence[Any]) -> list[int]:
    return [int(v) for v in values if str(v).isdigit() and len(str(v)) < 19]


@dataclass(eq=False, repr=False)
class SegmentsAudience(Audience):
    """The members of any of the chosen segments (the materialized membership)."""

    def to_q(self, values: Sequence[str]) -> Exists:
        return Exists(Membership.objects.filter(contact=OuterRef("pk"), segment_id__in=segment_ids(values)))

    def choices(self, query: str = "", offset: int = 0, limit: int = 50) -> ChoicePage:
        return segment_choices(query, offset, limit)

    def choice_labels(self, values: Sequence[str]) -> dict[str, str]:
        return segment_labels(values)

    def joined_at(self, values: Sequence[str]) -> Subquery:
        latest = (Membership.objects.filter(contact=OuterRef("pk"), segment_id__in=segment_ids(values))
                  .order_by("-added_at").values("added_at")[:1])
        return Subquery(latest)

    def unavailable_reason(self, values: Sequence[str]) -> str | None:
        ids = segment_ids(values)
        stale = list(Segment.objects.filter(pk__in=ids).exclude(build_problem="").values_list("name", flat=True))
        if stale:
            return (f"Not rebuilt lately ({', '.join(stale)}): a filter is unavailable; the members found "
                    "before are used.")
        return None


def segment_audiences() -> list[Audience]:
    return [SegmentsAudience(key=KEY, label="Segments", group="Segments",
                             description="The members of the chosen segments (marketing lists).")]

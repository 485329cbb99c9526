"""Segment filters: the conditions a segment (marketing list) is built from.

A segment stores its filters as JSON: a tree of groups ``{"match": "all"|"any", "rules":
[...]}`` whose leaves are conditions ``{"filter": KEY, "operator": OP, "value": ...}``.
``KEY`` is a ``SegmentFilter``'s registry key, so keys are stable forever; when no filter
answers to a stored key (its integration was removed) the segment shows the filter as
unavailable and keeps its members instead of failing.

Everything filters in the database: ``to_q`` returns a ``Q`` or an ``Exists`` on
``contacts.Contact`` that the segments app combines with the other conditions and turns
into set-based SQL (rebuilds, counts, re-evaluation of changed contacts).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from liaison.core.contributions.base import Contribution

if TYPE_CHECKING:
    from django.db.models import Exists, Q

ValueType = Literal["text", "number", "date", "boolean", "choice", "multichoice", "period"]
VALUE_TYPES: tuple[str, ...] = ("text", "number", "date", "boolean", "choice", "multichoice", "period")

# How an operator takes its value:
#   none  -> no value (None)          one   -> a single value
#   many  -> a non-empty list         range -> [low, high]
#   days  -> a whole number of days   period -> {"values": [...], "days": N} or {"values", "from", "to"}
Arity = Literal["none", "one", "many", "range", "days", "period"]


@dataclass(frozen=True)
class Operator:
    key: str
    label: str
    arity: Arity
    # Shown instead of ``label`` for dates ("after" rather than "greater than").
    date_label: str = ""


OPERATORS: dict[str, Operator] = {op.key: op for op in (
    Operator("eq", "equals", "one", "on"),
    Operator("neq", "does not equal", "one", "not on"),
    Operator("contains", "contains", "one"),
    Operator("not_contains", "does not contain", "one"),
    Operator("starts_with", "starts with", "one"),
    Operator("ends_with", "ends with", "one"),
    Operator("gt", "greater than", "one", "after"),
    Operator("gte", "greater than or equal to", "one", "on or after"),
    Operator("lt", "less than", "one", "before"),
    Operator("lte", "less than or equal to", "one", "on or before"),
    Operator("between", "between", "range"),
    Operator("in", "is one of", "many"),
    Operator("not_in", "is none of", "many"),
    Operator("empty", "is empty", "none"),
    Operator("not_empty", "is not empty", "none"),
    Operator("last_days", "in the last N days", "days"),
    Operator("next_days", "in the next N days", "days"),
    Operator("more_than_days_ago", "more than N days ago", "days"),
    Operator("before_today", "before today", "none"),
    Operator("after_today", "after today", "none"),
    Operator("today", "today", "none"),
    # Period operators: "had at least one matching fact ..." (timeline activity, attendances).
    Operator("ever", "at any time", "period"),
    Operator("never", "never", "period"),
    Operator("in_last_days", "in the last N days", "period"),
    Operator("not_in_last_days", "not in the last N days", "period"),
    Operator("in_between", "between two dates", "period"),
)}

# The operators users expect for each value type (a filter may narrow them).
DEFAULT_OPERATORS: dict[str, tuple[str, ...]] = {
    "text": ("eq", "neq", "contains", "not_contains", "starts_with", "ends_with", "in", "not_in", "empty",
             "not_empty"),
    "number": ("eq", "neq", "gt", "gte", "lt", "lte", "between", "in", "not_in", "empty", "not_empty"),
    "date": ("eq", "neq", "gt", "gte", "lt", "lte", "between", "last_days", "next_days", "more_than_days_ago",
             "before_today", "after_today", "today", "empty", "not_empty"),
    "boolean": ("eq",),
    "choice": ("eq", "neq", "in", "not_in", "empty", "not_empty"),
    "multichoice": ("in", "not_in", "empty", "not_empty"),
    "period": ("ever", "never", "in_last_days", "not_in_last_days", "in_between"),
}

MAX_LIST_VALUES = 1000
MAX_DAYS = 36_500
MAX_TEXT = 500


@dataclass(frozen=True)
class ChoicePage:
    """One page of a filter's values: ``items`` are ``(value, label)`` pairs."""

    items: list[tuple[str, str]]
    more: bool = False


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ValueError("Enter a text value.")
    text = str(value).strip()
    if not text:
        raise ValueError("Enter a value.")
    if len(text) > MAX_TEXT:
        raise ValueError(f"Use at most {MAX_TEXT} characters.")
    return text


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError("Enter a number.")
    if isinstance(value, int):
        if abs(value) > 10**15:
            raise ValueError("This number is too large.")
        return value
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        raise ValueError(f"{value!r} is not a number.") from None
    if not number.is_finite() or abs(number) > 10**15:
        raise ValueError(f"{value!r} is not a number this filter can compare.")
    return int(number) if number == number.to_integral_value() else float(number)


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        raise ValueError("Enter a date (YYYY-MM-DD).")
    try:
        return date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD).") from None


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError("Choose yes or no.")


def _days(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("Enter a number of days.")
    try:
        days = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValueError("Enter a whole number of days.") from None
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"Enter a number of days between 1 and {MAX_DAYS}.")
    return days


def _whole(value: Any, unit: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"Enter a number of {unit}.")
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValueError(f"Enter a whole number of {unit}.") from None
    if not 1 <= number <= 1_000_000:
        raise ValueError(f"Enter a number of {unit} between 1 and 1,000,000.")
    return number


@dataclass(eq=False, repr=False)
class SegmentFilter(Contribution, ABC):
    """A condition users can put in a segment, e.g. "Registered for webinar".

    Subclass it, implement ``to_q`` (and ``choices`` when the values come from a table),
    and register an instance in ``AppConfig.ready()``::

        @dataclass(eq=False, repr=False)
        class RegisteredFilter(SegmentFilter):
            def to_q(self, operator, value):
                registered = Registration.objects.filter(contact=OuterRef("pk"), event__key__in=value)
                return Exists(registered) if operator == "in" else ~Exists(registered)

            def choices(self, query="", offset=0, limit=50):
                rows = Event.objects.filter(title__icontains=query).order_by("-starts_at")
                page = [(e.key, e.title) for e in rows[offset:offset + limit + 1]]
                return ChoicePage(page[:limit], more=len(page) > limit)

            def choice_labels(self, values):
                return dict(Event.objects.filter(key__in=values).values_list("key", "title"))

        registry.register(RegisteredFilter(key="goto.webinar.registered", label="Registered for webinar",
                                           group="GoToWebinar", value_type="choice", operators=("in", "not_in")))

    - ``group`` groups filters in the builder ("Contact", "Company", "Activity", "GoToWebinar").
    - ``value_type`` decides the value widget and how values are cleaned; ``operators``
      narrows ``DEFAULT_OPERATORS[value_type]`` (keys of ``OPERATORS``).
    - ``options``: a fixed list of ``(value, label)`` choices; for values read from a table
      override ``choices`` (searched and paged: the builder offers a search box when the
      first page says ``more``) and ``choice_labels``.
    - ``to_q(operator, value)`` gets a value already passed through ``clean`` and returns a
      ``Q`` or ``Exists`` on ``contacts.Contact`` (inside ``Exists``, the contact is
      ``OuterRef("pk")``). It must not evaluate anything in Python.
    - ``unavailable_reason()`` may return a sentence while the filter cannot be used (e.g.
      its product is switched off); segments using it then keep their members and skip
      rebuilds, showing that sentence.
    - ``threshold_label`` (period filters only, e.g. "minutes"): the value also carries a
      whole number ``at_least`` ("attended for at least 30 minutes"), asked for by the builder.
    """

    kind: ClassVar[str] = "segment_filter"
    key: str
    label: str
    group: str = "Contact"
    value_type: ValueType = "text"
    operators: tuple[str, ...] = ()
    options: tuple[tuple[str, str], ...] = ()
    description: str = ""
    # Filters whose values name other segments (the builder and the rebuild order need it).
    references_segments: bool = field(default=False)
    # Period filters that also take "at least N <threshold_label>" (value["at_least"]).
    threshold_label: str = ""

    def __post_init__(self) -> None:
        if not self.operators:
            self.operators = DEFAULT_OPERATORS.get(self.value_type, ())

    @abstractmethod
    def to_q(self, operator: str, value: Any) -> Q | Exists:
        """The condition on ``contacts.Contact`` for a cleaned value."""

    def choices(self, query: str = "", offset: int = 0, limit: int = 50) -> ChoicePage:
        """The values offered in the builder, filtered by ``query`` (case-insensitive), paged."""
        needle = (query or "").strip().lower()
        found = [(v, label) for v, label in self.options if not needle or needle in label.lower()
                 or needle in v.lower()]
        return ChoicePage(found[offset:offset + limit], more=len(found) > offset + limit)

    def choice_labels(self, values: Sequence[str]) -> dict[str, str]:
        """Labels of the given values (unknown values are left out)."""
        wanted = {str(v) for v in values}
        return {v: label for v, label in self.options if v in wanted}

    def unavailable_reason(self) -> str | None:
        return None

    def operator_label(self, operator: str) -> str:
        op = OPERATORS[operator]
        return op.date_label if self.value_type == "date" and op.date_label else op.label

    # -- values -----------------------------------------------------------------------

    def clean_one(self, value: Any) -> Any:
        """One value of this filter's type; raises ValueError with a sentence."""
        kind = self.value_type
        if kind == "number":
            return _number(value)
        if kind == "date":
            return _date(value)
        if kind == "boolean":
            return _boolean(value)
        return _text(value)

    def _check_choices(self, values: list[str]) -> None:
        if self.value_type not in ("choice", "multichoice", "period"):
            return
        known = self.choice_labels(values)
        missing = [v for v in values if v not in known]
        if missing:
            raise ValueError(f"Not among the choices: {', '.join(missing[:5])}.")

    def clean(self, operator: str, value: Any) -> Any:
        """Check a condition's operator and value; returns the value to store.

        Raises ValueError with a sentence for the user (shown next to the condition).
        """
        if operator not in self.operators:
            allowed = ", ".join(self.operator_label(o) for o in self.operators)
            raise ValueError(f"“{self.label}” cannot use the operator {operator!r} (use: {allowed}).")
        arity = OPERATORS[operator].arity
        if arity == "none":
            return None
        if arity == "one":
            if value is None or value == "" or isinstance(value, (list, dict)):
                raise ValueError("Enter a value.")
            cleaned = self.clean_one(value)
            self._check_choices([cleaned] if isinstance(cleaned, str) else [])
            return cleaned
        if arity == "many":
            items = value if isinstance(value, list) else [value] if value not in (None, "") else []
            if not items:
                raise ValueError("Choose at least one value.")
            if len(items) > MAX_LIST_VALUES:
                raise ValueError(f"Use at most {MAX_LIST_VALUES} values.")
            cleaned = list(dict.fromkeys(self.clean_one(v) for v in items))
            self._check_choices([c for c in cleaned if isinstance(c, str)])
            return cleaned
        if arity == "range":
            if not isinstance(value, list) or len(value) != 2:
                raise ValueError("Enter both ends of the range.")
            low, high = self.clean_one(value[0]), self.clean_one(value[1])
            if low > high:
                raise ValueError("The first value must not be greater than the second.")
            return [low, high]
        if arity == "days":
            return _days(value)
        return self._clean_period(operator, value)

    def _clean_period(self, operator: str, value: Any) -> dict[str, Any]:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ValueError("Choose the values and the period.")
        unknown = set(value) - {"values", "days", "from", "to", *(("at_least",) if self.threshold_label else ())}
        if unknown:
            raise ValueError(f"Unknown parts in the value: {', '.join(sorted(unknown))}.")
        raw = value.get("values") or []
        if not isinstance(raw, list) or len(raw) > MAX_LIST_VALUES:
            raise ValueError(f"Choose up to {MAX_LIST_VALUES} values.")
        values = list(dict.fromkeys(_text(v) for v in raw))
        self._check_choices(values)
        cleaned: dict[str, Any] = {"values": values}
        if operator in ("in_last_days", "not_in_last_days"):
            cleaned["days"] = _days(value.get("days"))
        elif operator == "in_between":
            low, high = _date(value.get("from")), _date(value.get("to"))
            if low > high:
                raise ValueError("The start date must not be after the end date.")
            cleaned.update({"from": low, "to": high})
        if self.threshold_label:
            cleaned["at_least"] = _whole(value.get("at_least"), self.threshold_label)
        return cleaned

    def validate(self) -> None:
        super().validate()
        if self.value_type not in VALUE_TYPES:
            raise ValueError(f"{self.key}: unknown value_type {self.value_type!r}")
        unknown = [o for o in self.operators if o not in OPERATORS]
        if unknown or not self.operators:
            raise ValueError(f"{self.key}: unknown or missing operators {unknown}")
        period = {o for o in self.operators if OPERATORS[o].arity == "period"}
        if (period and self.value_type != "period") or (self.value_type == "period" and period != set(self.operators)):
            raise ValueError(f"{self.key}: period operators go with value_type 'period' only")
        if self.threshold_label and self.value_type != "period":
            raise ValueError(f"{self.key}: threshold_label goes with value_type 'period' only")

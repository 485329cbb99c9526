"""The segment filter engine: core filters, the catalogue, checking and compiling filter trees.

Every condition becomes a ``Q``/``Exists`` on ``Contact``; a tree becomes one ``Q``. The
SQL that a rebuild or a re-evaluation runs is built from it: nothing filters in Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import BooleanField, DateField, DateTimeField, Exists, F, FloatField, Func, OuterRef, Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Lower
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    IEndsWith,
    IExact,
    In,
    IsNull,
    IStartsWith,
    LessThan,
    LessThanOrEqual,
)
from django.utils import timezone

from liaison.contacts.fields import CUSTOM_PREFIX
from liaison.contacts.models import Activity, Company, Field
from liaison.core.contributions import ChoicePage, SegmentFilter, TimelineKind
from liaison.core.contributions.segments import OPERATORS
from liaison.core.registry import registry
from liaison.segments.models import Membership, Segment

MAX_DEPTH = 5
MAX_CONDITIONS = 100
NOTHING = Q(pk__in=[])

# Operators that hold for a missing value ("city is not Paris" holds for a contact
# without a company): conditions on a company match contacts without one for these.
HOLDS_FOR_MISSING = {"neq", "not_contains", "not_in", "empty"}


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def _as_date(value: str) -> date:
    return date.fromisoformat(value)


class JSONArrayHasAny(Func):
    """True when the JSON array ``<json column> -> key`` holds one of ``values`` (any element
    when ``values`` is None). NULL-safe: a missing key is simply false."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, column: str, key: str, values: list[str] | None):
        super().__init__(F(column))
        self.key = key
        self.values = values

    def as_sql(self, compiler, connection, **extra):  # SQLite (PostgreSQL has its own below)
        column, params = compiler.compile(self.source_expressions[0])
        path = '$."' + self.key.replace('"', '""') + '"'
        sql = f"EXISTS (SELECT 1 FROM json_each({column}, %s)"
        params = [*params, path]
        if self.values is not None:
            sql += f" WHERE json_each.value IN ({', '.join(['%s'] * len(self.values))})"
            params += list(self.values)
        return sql + ")", params

    def as_postgresql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        element = f"({column} -> %s)"
        if self.values is None:
            sql = (f"COALESCE(CASE WHEN jsonb_typeof({element}) = 'array' "
                   f"THEN jsonb_array_length({element}) > 0 END, false)")
            return sql, [*params, self.key, *params, self.key]
        return f"COALESCE({element} ?| %s::text[], false)", [*params, self.key, list(self.values)]


@dataclass(eq=False, repr=False)
class FieldFilter(SegmentFilter):
    """A condition on a contact or company field: a column, or a custom field in ``custom``.

    ``column`` is how the value is stored: text (case-insensitive comparisons), choice
    (exact), number, date, datetime (compared by day in the installation's time zone),
    boolean, multichoice (a JSON list), user (a foreign key to a user).
    """

    path: str = ""
    on: str = "contact"  # contact | company
    custom_alias: str = ""
    column: str = "text"

    # -- the expression the operators apply to ---------------------------------------

    def _expr(self):
        if not self.custom_alias:
            return F(self.path)
        text = KeyTextTransform(self.custom_alias, "custom")
        if self.column == "number":
            return Cast(text, FloatField())
        if self.column == "date":
            return Cast(text, DateField())
        if self.column == "datetime":
            return Cast(text, DateTimeField())
        return text

    def to_q(self, operator: str, value: Any) -> Q:
        inner = self._condition(operator, value)
        if self.on == "contact":
            return inner
        # Correlated on the company's key: one index lookup per contact when re-evaluating a
        # few contacts (an IN (subquery) would read every matching company each time); a
        # rebuild still gets a semi-join.
        q = Q(Exists(Company.objects.filter(inner, pk=OuterRef("company_id"))))
        if operator in HOLDS_FOR_MISSING or (self.column == "boolean" and value is False):
            q |= Q(company_id__isnull=True)
        return q

    def _condition(self, operator: str, value: Any) -> Q:
        if self.column == "boolean":
            return self._boolean(operator, value)
        if self.column == "multichoice":
            return self._multichoice(operator, value)
        expr = self._expr()
        missing = Q(IsNull(expr, True))
        if operator == "empty":
            return missing | Q(Exact(expr, "")) if self.column in ("text", "choice") else missing
        if operator == "not_empty":
            present = Q(IsNull(expr, False))
            return present & ~Q(Exact(expr, "")) if self.column in ("text", "choice") else present
        if self.column in ("date", "datetime"):
            return self._date(expr, operator, value)
        if self.column == "user":
            value = [int(v) for v in value] if isinstance(value, list) else int(value)
        positive, negated = {
            "neq": ("eq", True), "not_contains": ("contains", True), "not_in": ("in", True),
        }.get(operator, (operator, False))
        q = Q(self._lookup(expr, positive, value))
        return (~q | missing) if negated else q

    def _lookup(self, expr, operator: str, value: Any):
        text = self.column == "text"
        if operator == "eq":
            return IExact(expr, value) if text else Exact(expr, value)
        if operator == "in":
            return In(Lower(expr), [str(v).lower() for v in value]) if text else In(expr, value)
        if operator == "contains":
            return IContains(expr, value)
        if operator == "starts_with":
            return IStartsWith(expr, value)
        if operator == "ends_with":
            return IEndsWith(expr, value)
        if operator == "between":
            return Q(GreaterThanOrEqual(expr, value[0])) & Q(LessThanOrEqual(expr, value[1]))
        comparisons = {"gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan, "lte": LessThanOrEqual}
        return comparisons[operator](expr, value)

    def _date(self, expr, operator: str, value: Any) -> Q:
        """Dates compare by day; a datetime column compares with the day's bounds (local time)."""
        today = timezone.localdate()
        now = timezone.now()
        moment = self.column == "datetime"

        def bound(day: date):
            """Where a day starts, in the column's terms."""
            return _day_start(day) if moment else day

        def next_day(day: date):
            return bound(day + timedelta(days=1))

        def on(day: date) -> Q:
            return Q(GreaterThanOrEqual(expr, bound(day))) & Q(LessThan(expr, next_day(day)))

        if operator == "eq":
            return on(_as_date(value))
        if operator == "neq":
            return ~on(_as_date(value)) | Q(IsNull(expr, True))
        if operator == "gt":
            return Q(GreaterThanOrEqual(expr, next_day(_as_date(value))))
        if operator == "gte":
            return Q(GreaterThanOrEqual(expr, bound(_as_date(value))))
        if operator == "lt":
            return Q(LessThan(expr, bound(_as_date(value))))
        if operator == "lte":
            return Q(LessThan(expr, next_day(_as_date(value))))
        if operator == "between":
            return Q(GreaterThanOrEqual(expr, bound(_as_date(value[0])))) & Q(
                LessThan(expr, next_day(_as_date(value[1]))))
        if operator == "last_days":
            start = now - timedelta(days=value) if moment else today - timedelta(days=value)
            return Q(GreaterThanOrEqual(expr, start)) & Q(LessThanOrEqual(expr, now if moment else today))
        if operator == "next_days":
            end = now + timedelta(days=value) if moment else today + timedelta(days=value)
            return Q(GreaterThanOrEqual(expr, now if moment else today)) & Q(LessThanOrEqual(expr, end))
        if operator == "more_than_days_ago":
            return Q(LessThan(expr, now - timedelta(days=value) if moment else today - timedelta(days=value)))
        if operator == "before_today":
            return Q(LessThan(expr, bound(today)))
        if operator == "after_today":
            return Q(GreaterThanOrEqual(expr, next_day(today)))
        if operator == "today":
            return on(today)
        raise ValueError(f"{operator} does not apply to dates")

    def _boolean(self, operator: str, value: Any) -> Q:
        if self.custom_alias:
            true = Q(**{f"custom__{self.custom_alias}": True})
            return true if value else ~true | Q(**{f"custom__{self.custom_alias}__isnull": True})
        return Q(Exact(F(self.path), bool(value)))

    def _multichoice(self, operator: str, value: Any) -> Q:
        if operator in ("in", "not_in"):
            q = Q(JSONArrayHasAny("custom", self.custom_alias, list(value)))
        else:
            q = Q(JSONArrayHasAny("custom", self.custom_alias, None))
        return q if operator in ("in", "not_empty") else ~q


@dataclass(eq=False, repr=False)
class OwnerFilter(FieldFilter):
    """The contact's owner: a choice among the users."""

    def _users(self):
        return get_user_model().objects.filter(is_active=True).order_by("username")

    def choices(self, query: str = "", offset: int = 0, limit: int = 50) -> ChoicePage:
        qs = self._users()
        if query:
            qs = qs.filter(Q(username__icontains=query) | Q(email__icontains=query))
        rows = [(str(pk), name) for pk, name in qs.values_list("pk", "username")[offset:offset + limit + 1]]
        return ChoicePage(rows[:limit], more=len(rows) > limit)

    def choice_labels(self, values) -> dict[str, str]:
        ids = [int(v) for v in values if str(v).isdigit() and len(str(v)) < 19]
        return {str(pk): name for pk, name in get_user_model().objects.filter(pk__in=ids)
                .values_list("pk", "username")}


@dataclass(eq=False, repr=False)
class MemberFilter(SegmentFilter):
    """Member (or not) of other segments, read from their materialized membership."""

    def to_q(self, operator: str, value: Any) -> Exists:
        members = Membership.objects.filter(contact=OuterRef("pk"), segment_id__in=[int(v) for v in value])
        return Exists(members) if operator == "in" else ~Exists(members)

    def choices(self, query: str = "", offset: int = 0, limit: int = 50) -> ChoicePage:
        return segment_choices(query, offset, limit)

    def choice_labels(self, values) -> dict[str, str]:
        return segment_labels(values)


def segment_choices(query: str = "", offset: int = 0, limit: int = 50) -> ChoicePage:
    """Segments by name, searched and paged (filters, audiences and steps offer them)."""
    qs = Segment.objects.order_by("name", "id")
    if query:
        qs = qs.filter(name__icontains=query)
    rows = [(str(pk), name) for pk, name in qs.values_list("pk", "name")[offset:offset + limit + 1]]
    return ChoicePage(rows[:limit], more=len(rows) > limit)


def segment_labels(values) -> dict[str, str]:
    ids = [int(v) for v in values if str(v).isdigit() and len(str(v)) < 19]
    return {str(pk): name for pk, name in Segment.objects.filter(pk__in=ids).values_list("pk", "name")}


@dataclass(eq=False, repr=False)
class ActivityFilter(SegmentFilter):
    """Had (or not) a timeline entry of some kinds within a period (no kinds: any kind)."""

    def _kinds(self) -> list[tuple[str, str]]:
        return sorted(((k.key, f"{k.group} · {k.label}") for k in registry.all(TimelineKind)), key=lambda c: c[1])

    def choices(self, query: str = "", offset: int = 0, limit: int = 50) -> ChoicePage:
        needle = (query or "").lower()
        found = [c for c in self._kinds() if needle in c[1].lower() or needle in c[0]]
        return ChoicePage(found[offset:offset + limit], more=len(found) > offset + limit)

    def choice_labels(self, values) -> dict[str, str]:
        wanted = set(values)
        return {k: label for k, label in self._kinds() if k in wanted}

    def to_q(self, operator: str, value: Any) -> Q | Exists:
        facts = Activity.objects.filter(contact=OuterRef("pk"))
        if value.get("values"):
            facts = facts.filter(kind__in=value["values"])
        if operator in ("in_last_days", "not_in_last_days"):
            facts = facts.filter(occurred_at__gte=timezone.now() - timedelta(days=value["days"]))
        elif operator == "in_between":
            facts = facts.filter(occurred_at__gte=_day_start(_as_date(value["from"])),
                                 occurred_at__lt=_day_start(_as_date(value["to"]) + timedelta(days=1)))
        return ~Exists(facts) if operator in ("never", "not_in_last_days") else Exists(facts)


# -- the core's contributions --------------------------------------------------------------

_TEXT_OPS = ("eq", "neq", "contains", "not_contains", "starts_with", "ends_with", "in", "not_in", "empty",
             "not_empty")
_NUMBER_OPS = ("eq", "neq", "gt", "gte", "lt", "lte", "between", "in", "not_in")

CONTACT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("email", "E-mail", "text"), ("first_name", "First name", "text"), ("last_name", "Last name", "text"),
    ("position", "Position", "text"), ("phone", "Phone", "text"), ("mobile", "Mobile", "text"),
    ("address1", "Address", "text"), ("address2", "Address (line 2)", "text"), ("city", "City", "text"),
    ("state", "State / region", "text"), ("postcode", "Postcode", "text"), ("country", "Country", "text"),
    ("dnc_reason", "Do-not-contact reason", "text"),
    ("created_at", "Date created", "datetime"), ("last_activity_at", "Date last active", "datetime"),
)
COMPANY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("name", "Name", "text"), ("website", "Website", "text"), ("email", "E-mail", "text"),
    ("phone", "Phone", "text"), ("address1", "Address", "text"), ("city", "City", "text"),
    ("state", "State / region", "text"), ("postcode", "Postcode", "text"), ("country", "Country", "text"),
    ("industry", "Industry", "text"), ("employees", "Employees", "number"),
    ("created_at", "Date created", "datetime"),
)
VALUE_TYPE = {"text": "text", "number": "number", "date": "date", "datetime": "date", "boolean": "boolean",
              "select": "choice", "choice": "choice", "multiselect": "multichoice", "email": "text", "url": "text",
              "phone": "text", "textarea": "text"}


def _column_filter(on: str, name: str, label: str, column: str, group: str) -> FieldFilter:
    value_type = VALUE_TYPE[column]
    operators = ()
    if column == "number":
        # A number column is never empty (NULL only for a company's unknown headcount).
        operators = (*_NUMBER_OPS, "empty", "not_empty") if on == "company" else _NUMBER_OPS
    return FieldFilter(key=f"{on}.{name}", label=label, group=group, value_type=value_type,
                       operators=operators, path=name, on=on, column=column)


def core_filters() -> list[SegmentFilter]:
    """The filters the segments app registers (custom fields join them at run time)."""
    filters: list[SegmentFilter] = [_column_filter("contact", n, label, c, "Contact") for n, label, c in
                                    CONTACT_COLUMNS]
    filters += [_column_filter("company", n, label, c, "Company") for n, label, c in COMPANY_COLUMNS]
    filters += [
        FieldFilter(key="contact.points", label="Points", group="Contact", value_type="number",
                    operators=_NUMBER_OPS, path="points", column="number"),
        FieldFilter(key="contact.do_not_contact", label="Do not contact", group="Contact", value_type="boolean",
                    path="do_not_contact", column="boolean",
                    description="Contacts who asked not to be contacted (or bounced)."),
        OwnerFilter(key="contact.owner", label="Owner", group="Contact", value_type="choice",
                    operators=("in", "not_in", "empty", "not_empty"), path="owner_id", column="user"),
        MemberFilter(key="segments.member", label="Member of segment", group="Segments", value_type="choice",
                     operators=("in", "not_in"), references_segments=True),
        ActivityFilter(key="activity.kind", label="Timeline activity", group="Activity", value_type="period",
                       description="Had an entry of these kinds on the timeline (none chosen: "
                                                    "any kind) within the period."),
    ]
    return filters


def custom_filter(field: Field) -> FieldFilter:
    column = field.type if field.type in ("number", "date", "datetime", "boolean", "multiselect") else (
        "choice" if field.type == "select" else "text")
    column = {"multiselect": "multichoice"}.get(column, column)
    options = tuple((str(c.get("value")), str(c.get("label") or c.get("value"))) for c in field.choices or [])
    value_type = VALUE_TYPE[field.type]
    operators = (*_NUMBER_OPS, "empty", "not_empty") if column == "number" else ()
    if column == "boolean":
        operators = ("eq",)
    group = "Contact" if field.object == Field.Object.CONTACT else "Company"
    return FieldFilter(key=f"{field.object}.{CUSTOM_PREFIX}{field.alias}", label=field.label, group=group,
                       value_type=value_type, operators=operators, options=options, path="custom",
                       on=field.object, custom_alias=field.alias, column=column)


_catalogue: tuple[Any, dict[str, SegmentFilter]] | None = None


def catalogue() -> dict[str, SegmentFilter]:
    """Every filter usable now: the registry's, then one per custom field.

    Kept while the custom fields stay the same, checked with one plain statement (a contact's
    re-evaluation reads it every time).
    """
    global _catalogue
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, object, alias, type, label, choices FROM {Field._meta.db_table} ORDER BY id")
        version = (cursor.fetchall(), [id(f) for f in registry.all(SegmentFilter)])
    if _catalogue is None or _catalogue[0] != version:
        found: dict[str, SegmentFilter] = {f.key: f for f in registry.all(SegmentFilter)}
        for field in Field.objects.order_by("object", "group", "order", "label"):
            flt = custom_filter(field)
            found.setdefault(flt.key, flt)
        _catalogue = (version, found)
    return dict(_catalogue[1])


def grouped(filters: Mapping[str, SegmentFilter]) -> list[tuple[str, list[SegmentFilter]]]:
    """Filters by group for the builder: Contact, Company, then the others alphabetically."""
    order = {"Contact": 0, "Company": 1, "Segments": 2, "Activity": 3}
    groups: dict[str, list[SegmentFilter]] = {}
    for flt in filters.values():
        groups.setdefault(flt.group, []).append(flt)
    return [(g, sorted(items, key=lambda f: f.label.lower()))
            for g, items in sorted(groups.items(), key=lambda kv: (order.get(kv[0], 9), kv[0]))]


# -- trees: checking, compiling, describing -------------------------------------------------

class Unavailable(Exception):
    """A stored condition names a filter that cannot be used now."""

    def __init__(self, key: str, reason: str = ""):
        self.key = key
        self.reason = reason or (f"The filter “{key}” is unavailable: the integration that provided it may be "
                                 f"disabled or removed.")
        super().__init__(self.reason)


def is_group(node: Any) -> bool:
    return isinstance(node, dict) and "rules" in node


def conditions(tree: Any) -> Iterable[dict]:
    """Every condition of a tree (depth first)."""
    if is_group(tree):
        for node in tree.get("rules") or []:
            yield from conditions(node)
    elif isinstance(tree, dict):
        yield tree


def problems(tree: dict, filters: Mapping[str, SegmentFilter]) -> list[Unavailable]:
    """The conditions of a stored tree that cannot be evaluated now."""
    found = []
    for cond in conditions(tree):
        flt = filters.get(str(cond.get("filter")))
        reason = flt.unavailable_reason() if flt else None
        if flt is None or reason:
            found.append(Unavailable(str(cond.get("filter")), reason or ""))
    return found


def clean_tree(tree: Any, filters: Mapping[str, SegmentFilter], stored: dict | None = None
               ) -> tuple[dict, dict[str, list[str]]]:
    """Check a filter tree against the catalogue; returns (clean tree, {path: [messages]}).

    Paths look like ``filters.rules.0.value``. A condition whose filter is unavailable is
    accepted only if the segment already had it exactly so (``stored``): its integration
    was removed after it was saved, and saving the name must not lose it.
    """
    errors: dict[str, list[str]] = {}
    kept = [c for c in conditions(stored)] if stored else []
    count = 0

    def error(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    def walk(node: Any, path: str, depth: int) -> dict | None:
        nonlocal count
        if not isinstance(node, dict):
            error(path, "Each rule must be a condition or a group.")
            return None
        if "rules" in node:
            if depth >= MAX_DEPTH:
                error(path, f"Groups can be nested {MAX_DEPTH} deep at most.")
                return None
            unknown = set(node) - {"match", "rules"}
            if unknown:
                error(path, f"Unknown keys in a group: {', '.join(sorted(map(str, unknown)))}.")
            match = node.get("match", "all")
            if match not in ("all", "any"):
                error(f"{path}.match", "Use “all” (AND) or “any” (OR).")
            rules = node.get("rules")
            if not isinstance(rules, list):
                error(f"{path}.rules", "The rules must be a list.")
                return None
            cleaned = [walk(child, f"{path}.rules.{i}", depth + 1) for i, child in enumerate(rules)]
            return {"match": match if match in ("all", "any") else "all", "rules": [c for c in cleaned if c]}
        count += 1
        if count > MAX_CONDITIONS:
            if count == MAX_CONDITIONS + 1:
                error(path, f"A segment can have {MAX_CONDITIONS} conditions at most.")
            return None
        unknown = set(node) - {"filter", "operator", "value"}
        if unknown:
            error(path, f"Unknown keys in a condition: {', '.join(sorted(map(str, unknown)))}.")
        key = node.get("filter")
        if not isinstance(key, str) or not key:
            error(f"{path}.filter", "Choose a filter.")
            return None
        flt = filters.get(key)
        if flt is None or flt.unavailable_reason():
            if node in kept:
                return node
            error(f"{path}.filter", (flt.unavailable_reason() if flt else None)
                  or f"There is no filter “{key}” (is its integration installed?).")
            return None
        operator = node.get("operator")
        if not isinstance(operator, str) or operator not in OPERATORS:
            error(f"{path}.operator", f"Choose one of: {', '.join(flt.operator_label(o) for o in flt.operators)}.")
            return None
        try:
            value = flt.clean(operator, node.get("value"))
        except ValueError as exc:
            error(f"{path}.operator" if operator not in flt.operators else f"{path}.value", str(exc))
            return None
        return {"filter": key, "operator": operator, "value": value}

    if tree is None:
        tree = {"match": "all", "rules": []}
    if not is_group(tree):
        error("filters", "The filters must be a group: {\"match\": \"all\", \"rules\": [...]}.")
        return {"match": "all", "rules": []}, errors
    cleaned = walk(tree, "filters", 0) or {"match": "all", "rules": []}
    return cleaned, errors


def compile_tree(tree: dict, filters: Mapping[str, SegmentFilter]) -> Q:
    """The tree as one condition on Contact. An empty group matches nobody (a static list).

    Raises ``Unavailable`` for a condition whose filter cannot be used now.
    """
    if not is_group(tree):
        raise Unavailable("?", "The stored filters are damaged.")
    parts = []
    for node in tree.get("rules") or []:
        if is_group(node):
            parts.append(compile_tree(node, filters))
            continue
        flt = filters.get(node.get("filter"))
        reason = flt.unavailable_reason() if flt else None
        if flt is None or reason:
            raise Unavailable(str(node.get("filter")), reason or "")
        condition = flt.to_q(node["operator"], node.get("value"))
        parts.append(condition if isinstance(condition, Q) else Q(condition))
    if not parts:
        return NOTHING
    combined = parts[0]
    for part in parts[1:]:
        combined = (combined | part) if tree.get("match") == "any" else (combined & part)
    return combined


def referenced_segments(tree: dict, filters: Mapping[str, SegmentFilter]) -> set[int]:
    found: set[int] = set()
    for cond in conditions(tree):
        flt = filters.get(str(cond.get("filter")))
        if flt is not None and flt.references_segments and isinstance(cond.get("value"), list):
            found.update(int(v) for v in cond["value"] if str(v).isdigit())
    return found


def _value_words(flt: SegmentFilter, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):  # a period
        labels = flt.choice_labels(value.get("values") or [])
        what = ", ".join(labels.get(v, v) for v in value.get("values") or []) or "any kind"
        if "at_least" in value:
            what += f", at least {value['at_least']} {flt.threshold_label}"
        if "days" in value:
            return f"{what}, {value['days']} days"
        if "from" in value:
            return f"{what}, {value['from']} – {value['to']}"
        return what
    if isinstance(value, bool):
        return "yes" if value else "no"
    values = value if isinstance(value, list) else [value]
    if flt.value_type in ("choice", "multichoice"):
        labels = flt.choice_labels([str(v) for v in values])
        values = [labels.get(str(v), v) for v in values]
    joiner = " and " if isinstance(value, list) and len(value) == 2 and flt.value_type in ("number", "date") \
        else ", "
    return joiner.join(f"“{v}”" if isinstance(v, str) else str(v) for v in values)


def describe(tree: dict, filters: Mapping[str, SegmentFilter], top: bool = True) -> str:
    """The tree in words, e.g. “City” equals “Lyon” AND (“Points” greater than 10 OR ...)."""
    if not is_group(tree) or not tree.get("rules"):
        return "No filters: only contacts added by hand." if top else "(empty group)"
    parts = []
    for node in tree["rules"]:
        if is_group(node):
            parts.append(f"({describe(node, filters, top=False)})")
            continue
        flt = filters.get(str(node.get("filter")))
        if flt is None:
            parts.append(f"[unavailable filter “{node.get('filter')}”]")
            continue
        op = flt.operator_label(node.get("operator")) if node.get("operator") in OPERATORS else "?"
        if OPERATORS.get(node.get("operator")) and OPERATORS[node["operator"]].arity == "days":
            op = op.replace("N", str(node.get("value")))
            parts.append(f"{flt.label} {op}")
            continue
        words = _value_words(flt, node.get("value"))
        parts.append(f"{flt.label} {op}{' ' + words if words else ''}")
    return (" AND " if tree.get("match", "all") == "all" else " OR ").join(parts)


"""The filter builder's form: a filter tree <-> named inputs, and what the page draws.

A node's inputs are named by its path: the root group is ``f``, its children ``f-0``,
``f-1``…, a child group's children ``f-1-0``… A group posts ``<path>-match`` and
``<path>-n`` (how many children); a condition posts ``<path>-filter``,
``<path>-operator`` and its value inputs. The builder posts the whole form on every
change (HTMX) and the server draws it again, so the logic stays here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from liaison.core.contributions import SegmentFilter
from liaison.core.contributions.segments import OPERATORS
from liaison.segments.filters import MAX_CONDITIONS, MAX_DEPTH, is_group

CHOICES_SHOWN = 50


@dataclass
class ConditionView:
    path: str
    key: str
    flt: SegmentFilter | None
    operator: str
    values: list[str] = field(default_factory=list)
    high: str = ""
    days: str = ""
    start: str = ""
    end: str = ""
    at_least: str = ""
    errors: list[str] = field(default_factory=list)
    choices: list[tuple[str, str]] = field(default_factory=list)
    selected: list[tuple[str, str]] = field(default_factory=list)
    searchable: bool = False
    # The stored condition, as JSON, while its filter is unavailable (posted back unchanged).
    stored: str = ""

    is_group = False

    @property
    def arity(self) -> str:
        return OPERATORS[self.operator].arity if self.operator in OPERATORS else "none"

    @property
    def operators(self) -> list[tuple[str, str]]:
        return [(o, self.flt.operator_label(o)) for o in self.flt.operators] if self.flt else []

    @property
    def value(self) -> str:
        return self.values[0] if self.values else ""

    @property
    def lines(self) -> str:
        return "\n".join(self.values)


@dataclass
class GroupView:
    path: str
    match: str = "all"
    children: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    depth: int = 0

    is_group = True

    @property
    def can_nest(self) -> bool:
        return self.depth + 1 < MAX_DEPTH


def _values(value: Any) -> tuple[list[str], str]:
    """A stored value as (values, high) strings for the inputs."""
    if value is None:
        return [], ""
    if isinstance(value, bool):
        return ["yes" if value else "no"], ""
    if isinstance(value, list):
        return [str(v) for v in value], ""
    return [str(value)], ""


def from_tree(tree: dict, filters: dict[str, SegmentFilter], path: str = "f", depth: int = 0) -> GroupView:
    group = GroupView(path=path, match=tree.get("match", "all") if is_group(tree) else "all", depth=depth)
    for index, node in enumerate((tree.get("rules") or []) if is_group(tree) else []):
        child_path = f"{path}-{index}"
        if is_group(node):
            group.children.append(from_tree(node, filters, child_path, depth + 1))
            continue
        key = str(node.get("filter") or "")
        operator = str(node.get("operator") or "")
        value = node.get("value")
        cond = ConditionView(path=child_path, key=key, flt=filters.get(key), operator=operator)
        if cond.flt is None:
            cond.stored = json.dumps(node)
        if isinstance(value, dict):
            cond.values = [str(v) for v in value.get("values") or []]
            cond.days = str(value.get("days", ""))
            cond.start, cond.end = str(value.get("from", "")), str(value.get("to", ""))
            cond.at_least = str(value.get("at_least", ""))
        elif OPERATORS.get(operator) and OPERATORS[operator].arity == "range" and isinstance(value, list) \
                and len(value) == 2:
            cond.values, cond.high = [str(value[0])], str(value[1])
        elif OPERATORS.get(operator) and OPERATORS[operator].arity == "days":
            cond.days = str(value if value is not None else "")
        else:
            cond.values, _ = _values(value)
        group.children.append(cond)
    return group


def _post_value(post, cond: ConditionView) -> Any:
    arity = cond.arity
    p = cond.path
    if arity == "none":
        return None
    if arity == "one":
        value = post.get(f"{p}-value", "")
        if cond.flt and cond.flt.value_type == "boolean":
            return {"yes": True, "no": False}.get(value, value)
        return value
    if arity == "many":
        values = post.getlist(f"{p}-value")
        if cond.flt and cond.flt.value_type in ("text", "number", "date"):
            values = [line.strip() for v in values for line in v.splitlines() if line.strip()]
        return values
    if arity == "range":
        return [post.get(f"{p}-value", ""), post.get(f"{p}-high", "")]
    if arity == "days":
        return post.get(f"{p}-days", "")
    value: dict[str, Any] = {"values": post.getlist(f"{p}-value")}
    if cond.operator in ("in_last_days", "not_in_last_days"):
        value["days"] = post.get(f"{p}-days", "")
    elif cond.operator == "in_between":
        value["from"], value["to"] = post.get(f"{p}-from", ""), post.get(f"{p}-to", "")
    if cond.flt and cond.flt.threshold_label:
        value["at_least"] = post.get(f"{p}-at_least", "")
    return value


def tree_from_post(post, filters: dict[str, SegmentFilter], path: str = "f", depth: int = 0,
                   budget: list[int] | None = None) -> dict:
    """The tree the builder's inputs describe (values as typed; ``clean_tree`` checks them).

    A condition whose filter changed gets that filter's first operator if its own does not
    apply; the builder then draws the right value inputs.
    """
    budget = budget if budget is not None else [MAX_CONDITIONS * 2]
    tree: dict[str, Any] = {"match": "any" if post.get(f"{path}-match") == "any" else "all", "rules": []}
    try:
        count = min(int(post.get(f"{path}-n", "0")), MAX_CONDITIONS)
    except ValueError:
        count = 0
    for index in range(count):
        child = f"{path}-{index}"
        kind = post.get(f"{child}-kind")
        if kind == "group" and depth + 1 < MAX_DEPTH:
            tree["rules"].append(tree_from_post(post, filters, child, depth + 1, budget))
        elif kind == "condition" and budget[0] > 0:
            budget[0] -= 1
            key = post.get(f"{child}-filter", "")
            flt = filters.get(key)
            operator = post.get(f"{child}-operator", "")
            if flt and operator not in flt.operators:
                operator = flt.operators[0]
            cond = ConditionView(path=child, key=key, flt=flt, operator=operator)
            node = {"filter": key, "operator": operator, "value": _post_value(post, cond)}
            if flt is None and post.get(f"{child}-stored"):
                node = _stored(post.get(f"{child}-stored"))  # an unavailable filter, kept as stored
            tree["rules"].append(node)
    return tree


def _stored(raw: str) -> dict:
    try:
        node = json.loads(raw)
    except ValueError:
        return {"filter": "", "operator": "", "value": None}
    return node if isinstance(node, dict) else {"filter": "", "operator": "", "value": None}


PATH = re.compile(r"^f((?:-\d+)*)$")


def _node(tree: dict, path: str) -> dict | None:
    match = PATH.match(path or "")
    if not match:
        return None
    node = tree
    for part in [p for p in match.group(1).split("-") if p]:
        rules = node.get("rules") if is_group(node) else None
        if rules is None or int(part) >= len(rules):
            return None
        node = rules[int(part)]
    return node


def apply(tree: dict, op: str, filters: dict[str, SegmentFilter]) -> dict:
    """Apply a builder button: ``add-condition:<group>``, ``add-group:<group>``, ``remove:<node>``."""
    action, _, path = (op or "").partition(":")
    if action in ("add-condition", "add-group"):
        group = _node(tree, path)
        if not is_group(group):
            return tree
        if action == "add-group":
            group["rules"].append({"match": "any", "rules": [_blank(filters)]})
        else:
            group["rules"].append(_blank(filters))
    elif action == "remove" and path != "f":
        parent_path, _, index = path.rpartition("-")
        parent = _node(tree, parent_path)
        if is_group(parent) and index.isdigit() and int(index) < len(parent["rules"]):
            parent["rules"].pop(int(index))
    return tree


def _blank(filters: dict[str, SegmentFilter]) -> dict:
    first = filters.get("contact.email") or next(iter(filters.values()))
    return {"filter": first.key, "operator": first.operators[0], "value": None}


def decorate(group: GroupView, errors: dict[str, list[str]]) -> GroupView:
    """Attach choices and the messages of ``clean_tree`` (paths like filters.rules.0.value)."""
    for key, messages in errors.items():
        target = _find(group, _builder_path(key))
        if target is not None:
            target.errors += messages
    _choices(group)
    return group


def _builder_path(error_key: str) -> str:
    parts = error_key.split(".")
    path = "f"
    for i, part in enumerate(parts):
        if part == "rules" and i + 1 < len(parts) and parts[i + 1].isdigit():
            path += f"-{parts[i + 1]}"
    return path


def _find(group: GroupView, path: str):
    if group.path == path:
        return group
    for child in group.children:
        if child.path == path:
            return child
        if child.is_group:
            found = _find(child, path)
            if found is not None:
                return found
    return None


def _choices(group: GroupView) -> None:
    for child in group.children:
        if child.is_group:
            _choices(child)
            continue
        flt = child.flt
        if flt is None or flt.value_type not in ("choice", "multichoice", "period", "boolean"):
            continue
        if flt.value_type == "boolean":
            child.choices = [("yes", "Yes"), ("no", "No")]
            continue
        page = flt.choices("", 0, CHOICES_SHOWN)
        labels = flt.choice_labels(child.values) if child.values else {}
        child.selected = [(v, labels.get(v, v)) for v in child.values]
        if page.more:
            child.searchable = True
            child.choices = []
        else:
            child.choices = page.items

"""The form builder's page: a form definition <-> named inputs, and what the page draws.

Fields post ``fields-<i>-<property>`` (validation rules ``fields-<i>-v-<rule>``, type
settings ``fields-<i>-c-<name>``), actions ``actions-<i>-key`` and
``actions-<i>-c-<name>``. Buttons (add, remove, move) post the whole builder with an
``op``; the server applies it and draws the builder again, nothing is saved until "Save".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from liaison.contacts.fields import contact_field_catalogue
from liaison.core.configform import ConfigInput, config_from_post, config_inputs
from liaison.core.contributions import FormAction as ActionType
from liaison.core.contributions import FormFieldType, FormSpec
from liaison.core.registry import registry
from liaison.webforms.services import MAX_ACTIONS, MAX_FIELDS, VALIDATION_KEYS, _as_options

FIELD_PROPS = ("key", "label", "type", "help_text", "placeholder", "default", "contact_field")


def _count(post, name: str, limit: int) -> int:
    try:
        return max(0, min(int(post.get(name, "0")), limit))
    except ValueError:
        return 0


def from_post(post) -> dict[str, Any]:
    """The form definition the builder's inputs describe (checked later by ``clean_form``)."""
    data: dict[str, Any] = {name: post.get(name, "") for name in
                            ("name", "slug", "title", "intro", "submit_label", "success_message", "redirect_url")}
    data["published"] = bool(post.get("published"))
    fields = []
    for i in range(_count(post, "fields-n", MAX_FIELDS)):
        p = f"fields-{i}"
        item: dict[str, Any] = {name: post.get(f"{p}-{name}", "") for name in FIELD_PROPS}
        item["required"] = bool(post.get(f"{p}-required"))
        item["options"] = post.get(f"{p}-options", "")
        item["validation"] = {rule: post.get(f"{p}-v-{rule}", "") for rule in VALIDATION_KEYS
                              if post.get(f"{p}-v-{rule}", "") != ""}
        kind = registry.find(FormFieldType, item["type"])
        item["config"] = config_from_post(post, p, kind.config_schema if kind else None)
        fields.append(item)
    data["fields"] = fields
    actions = []
    for i in range(_count(post, "actions-n", MAX_ACTIONS)):
        key = post.get(f"actions-{i}-key", "")
        kind = registry.find(ActionType, key)
        actions.append({"key": key, "config": config_from_post(post, f"actions-{i}", kind.config_schema
                                                                 if kind else None)})
    data["actions"] = actions
    return data


def from_form(form) -> dict[str, Any]:
    data = {name: getattr(form, name) for name in
            ("name", "slug", "title", "intro", "submit_label", "success_message", "redirect_url", "published")}
    data["fields"] = [{"key": f.key, "label": f.label, "type": f.type, "required": f.required,
                       "help_text": f.help_text, "placeholder": f.placeholder, "default": f.default,
                       "options": f.options, "validation": f.validation, "contact_field": f.contact_field,
                       "config": f.config} for f in form.fields.all()]
    data["actions"] = [{"key": a.key, "config": a.config} for a in form.actions.all()]
    return data


def _move(items: list, index: int, step: int) -> None:
    target = index + step
    if 0 <= index < len(items) and 0 <= target < len(items):
        items[index], items[target] = items[target], items[index]


def apply(data: dict[str, Any], op: str) -> dict[str, Any]:
    """Apply a builder button: add-field:<type>, add-action:<key>, remove-/up-/down-field:<i>, ...-action:<i>."""
    action, _, arg = (op or "").partition(":")
    verb, _, what = action.partition("-")
    items = data["fields"] if what == "field" else data["actions"] if what == "action" else None
    if items is None:
        return data
    if verb == "add":
        if what == "field" and registry.find(FormFieldType, arg) and len(items) < MAX_FIELDS:
            label = registry.get(FormFieldType, arg).label
            items.append({"key": "", "label": label if arg != "email" else "E-mail", "type": arg,
                          "required": False, "options": [], "validation": {}, "config": {},
                          "contact_field": "email" if arg == "email" and not any(
                              f.get("contact_field") == "email" for f in items) else ""})
        elif what == "action" and registry.find(ActionType, arg) and len(items) < MAX_ACTIONS:
            items.append({"key": arg, "config": {}})
        return data
    if not arg.isdigit():
        return data
    index = int(arg)
    if verb == "remove" and index < len(items):
        items.pop(index)
    elif verb in ("up", "down"):
        _move(items, index, -1 if verb == "up" else 1)
    return data


def flat_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """``fields.2.config.multiple`` -> ``fields-2-c-multiple`` (the input's name)."""
    flat: dict[str, list[str]] = {}
    for key, messages in errors.items():
        name = key.replace(".config.", ".c.").replace(".validation.", ".v.")
        name = re.sub(r"\.", "-", name)
        flat.setdefault(name, []).extend(messages)
    return flat


@dataclass
class Row:
    """A field (``what="fields"``) or an action (``what="actions"``) as the builder draws it."""

    what: str
    index: int
    data: dict[str, Any]
    kind: FormFieldType | ActionType | None
    config: list[ConfigInput] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"{self.what}-{self.index}"

    @property
    def options_text(self) -> str:
        return "\n".join(o["value"] if o["value"] == o["label"] else f"{o['value']}|{o['label']}"
                         for o in _as_options(self.data.get("options")))

    @property
    def rules(self) -> dict[str, Any]:
        return self.data.get("validation") or {}


def _rows(what: str, items: list[dict[str, Any]], contribution, key: str, spec: FormSpec) -> list[Row]:
    found = []
    for i, item in enumerate(items or []):
        kind = registry.find(contribution, item.get(key, ""))
        row = Row(what, i, item, kind)
        if kind is not None:
            row.config = config_inputs(kind.config_schema, row.prefix, item.get("config") or {},
                                 lambda name, kind=kind: kind.config_choices(name, spec))
        found.append(row)
    return found


def rows(data: dict[str, Any], spec: FormSpec) -> tuple[list[Row], list[Row]]:
    return (_rows("fields", data.get("fields"), FormFieldType, "type", spec),
            _rows("actions", data.get("actions"), ActionType, "key", spec))


def palette() -> dict[str, Any]:
    """What the builder offers: field types and actions by group, contact fields to map to."""
    def grouped(items):
        groups: dict[str, list] = {}
        for item in items:
            groups.setdefault(item.group, []).append(item)
        return sorted(groups.items(), key=lambda kv: (kv[0] not in ("Standard", "Liaison"), kv[0]))

    return {
        "field_types": grouped(registry.all(FormFieldType)),
        "action_types": grouped(registry.all(ActionType)),
        "contact_fields": [(f.key, f.label) for f in contact_field_catalogue() if f.key != "owner"],
    }


def spec_from_data(data: dict[str, Any]) -> FormSpec:
    """A best-effort ``FormSpec`` of what the builder shows (for config choices while editing)."""
    from liaison.core.contributions import ActionSpec, FieldSpec

    fields = tuple(FieldSpec(key=str(f.get("key") or ""), label=str(f.get("label") or ""), type=str(f.get("type")),
                             required=bool(f.get("required")), contact_field=str(f.get("contact_field") or ""),
                             options=tuple((o["value"], o["label"]) for o in _as_options(f.get("options"))),
                             config=f.get("config") if isinstance(f.get("config"), dict) else {})
                   for f in data.get("fields") or [] if isinstance(f, dict))
    actions = tuple(ActionSpec(key=str(a.get("key")), config=a.get("config") or {}, order=i)
                    for i, a in enumerate(data.get("actions") or []) if isinstance(a, dict))
    return FormSpec(name=str(data.get("name") or ""), fields=fields, actions=actions)

"""Drawing a contribution's pydantic config as inputs of a page, and reading it back.

Form actions and field settings (the form builder), campaign steps (the campaign builder)
and point-trigger actions all keep their configuration in a pydantic model. A page draws
each setting with ``web/_field.html`` from ``config_inputs(...)`` and reads the posted
values with ``config_from_post(...)`` (inputs are named ``<prefix>-c-<setting>``); the
model then checks them (``core.schema.validate_model``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from liaison.core.schema import SettingField, describe

ChoicesFor = Callable[[str], list[tuple[str, str]] | None]


@dataclass
class ConfigInput:
    setting: SettingField
    name: str
    value: Any
    choices: list[tuple[str, str]] | None = None

    @property
    def input_type(self) -> str:
        if self.setting.kind == "multichoice":
            # A free list (nothing to choose from): one value per line.
            return "textarea" if self.free_list else "multiselect"
        if self.choices is not None:
            return "select"
        return {"bool": "boolean", "int": "number", "float": "number", "choice": "select", "url": "url",
                "secret": "secret"}.get(self.setting.kind, "text")

    @property
    def free_list(self) -> bool:
        """A list setting with nothing to choose from (not merely no choices yet)."""
        return self.setting.kind == "multichoice" and self.choices is None and not self.setting.choices

    @property
    def all_choices(self) -> list[tuple[str, str]]:
        return self.choices if self.choices is not None else list(self.setting.choices)


def input_name(prefix: str, setting: str) -> str:
    return f"{prefix}-c-{setting}"


def config_inputs(schema, prefix: str, config: dict[str, Any], choices_for: ChoicesFor) -> list[ConfigInput]:
    """The inputs of a config: its current values and, per setting, the choices offered (if any)."""
    if schema is None:
        return []
    found = []
    for setting in describe(schema):
        value = config.get(setting.name, setting.default)
        item = ConfigInput(setting, input_name(prefix, setting.name), "" if value is None else value,
                           choices_for(setting.name))
        if setting.kind == "multichoice":
            values = [str(v) for v in (value or [])]
            item.value = "\n".join(values) if item.free_list else values
        found.append(item)
    return found


def config_from_post(post, prefix: str, schema) -> dict[str, Any]:
    """The config the posted inputs describe (unchecked: the model validates it)."""
    if schema is None:
        return {}
    config: dict[str, Any] = {}
    for setting in describe(schema):
        name = input_name(prefix, setting.name)
        if setting.kind == "bool":
            config[setting.name] = bool(post.get(name))
        elif setting.kind == "multichoice":
            values = post.getlist(name) if hasattr(post, "getlist") else post.get(name) or []
            # Choice values hold no line breaks, so splitting also reads a free list's textarea.
            lines = [line.strip() for v in ([values] if isinstance(values, str) else values)
                     for line in str(v).splitlines()]
            config[setting.name] = [line for line in lines if line]
        elif post.get(name, "") != "":
            config[setting.name] = post.get(name)
    return config

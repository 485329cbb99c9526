"""The trigger page's action builder: named inputs <-> the trigger's actions, and what it draws.

Actions post ``actions-<i>-key`` and their settings ``actions-<i>-c-<setting>``
(``core.configform``). Buttons (add, remove, move) post the whole builder with an ``op``;
the server applies it and draws the builder again; nothing is saved until "Save".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from liaison.core.configform import ConfigInput, config_from_post, config_inputs
from liaison.core.contributions import CampaignStep
from liaison.points.services import MAX_ACTIONS, action_step, trigger_actions


def _count(post, name: str, limit: int) -> int:
    try:
        return max(0, min(int(post.get(name, "0")), limit))
    except ValueError:
        return 0


def actions_from_post(post) -> list[dict[str, Any]]:
    found = []
    for i in range(_count(post, "actions-n", MAX_ACTIONS)):
        key = post.get(f"actions-{i}-key", "")
        step = action_step(key)
        found.append({"key": key, "config": config_from_post(post, f"actions-{i}", step.config_schema if step else None)})
    return found


def apply(actions: list[dict[str, Any]], op: str) -> list[dict[str, Any]]:
    """add:<key>, remove:<i>, up:<i>, down:<i>."""
    verb, _, arg = (op or "").partition(":")
    if verb == "add":
        if action_step(arg) is not None and len(actions) < MAX_ACTIONS:
            actions.append({"key": arg, "config": {}})
        return actions
    if not arg.isdigit() or int(arg) >= len(actions):
        return actions
    index = int(arg)
    if verb == "remove":
        actions.pop(index)
    elif verb in ("up", "down"):
        target = index + (-1 if verb == "up" else 1)
        if 0 <= target < len(actions):
            actions[index], actions[target] = actions[target], actions[index]
    return actions


def flat_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """``actions.2.config.list`` -> ``actions-2-c-list`` (the input's name)."""
    flat: dict[str, list[str]] = {}
    for key, messages in errors.items():
        flat.setdefault(re.sub(r"\.", "-", key.replace(".config.", ".c.")), []).extend(messages)
    return flat


@dataclass
class Row:
    index: int
    data: dict[str, Any]
    step: CampaignStep | None
    config: list[ConfigInput] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"actions-{self.index}"


def rows(actions: list[dict[str, Any]]) -> list[Row]:
    found = []
    for i, item in enumerate(actions):
        step = action_step(str(item.get("key", "")))
        row = Row(i, item, step)
        if step is not None:
            row.config = config_inputs(step.config_schema, row.prefix, item.get("config") or {}, step.config_choices)
        found.append(row)
    return found


def palette() -> list[tuple[str, list[CampaignStep]]]:
    groups: dict[str, list[CampaignStep]] = {}
    for step in trigger_actions():
        groups.setdefault(step.group, []).append(step)
    return list(groups.items())

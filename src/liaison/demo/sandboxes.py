"""The provider emulators the demo mounts under /sandbox/<name>/ (demo wiring only)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

# name -> "module:factory"; each factory returns a WSGI application.
FACTORIES: dict[str, str] = {
    "goto": "liaison.sandbox.goto:create_app",
}


def factory(name: str) -> Callable:
    module_name, _, attr = FACTORIES[name].partition(":")
    return getattr(importlib.import_module(module_name), attr)


def available() -> list[str]:
    names = []
    for name in FACTORIES:
        try:
            factory(name)
        except (ImportError, AttributeError):
            continue
        names.append(name)
    return names


# Arguments each emulator is built with in the demo (deterministic seed data). GoTo's seed 13
# gives the organizer the demo signs in as both past and upcoming webinars and trainings
# (with seed 0 that organizer had no upcoming webinar: nothing to register to in a form).
DEMO_OPTIONS: dict[str, dict] = {
    "goto": {"seed": 13},
}


def demo_options(name: str) -> dict:
    return dict(DEMO_OPTIONS.get(name, {}))

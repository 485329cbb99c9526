"""A test point event with subjects, and a clean slate for the test-only CRM action."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from liaison.core.contributions import ContactEvent, PointEvent
from liaison.core.registry import registry
from tests.testapp import steps

HANDS = [("left", "Left hand"), ("right", "Right hand")]
WAVED = PointEvent(key="tests.waved", label="Waves", group="Tests", subject="hand", subject_label="Hand",
                   subject_choices=lambda: list(HANDS))
NODDED = PointEvent(key="tests.nodded", label="Nods", group="Tests")
_refs = itertools.count(1)


@pytest.fixture(autouse=True)
def point_events():
    with registry.override(WAVED, NODDED):
        yield


@pytest.fixture(autouse=True)
def crm():
    steps.CALLS.clear()
    steps.TRANSIENT["left"] = 0
    yield steps
    steps.CALLS.clear()
    steps.TRANSIENT["left"] = 0


def event(key: str, contacts, ref: str | None = None, **data) -> ContactEvent:
    ids = tuple(sorted(c if isinstance(c, int) else c.pk for c in contacts))
    return ContactEvent(key=key, contact_ids=ids, occurred_at=datetime(2026, 5, 1, 12, tzinfo=UTC),
                        ref=ref or f"tests:fact:{next(_refs)}", data=data)


def push(list_="vip", refuse=()) -> dict:
    return {"key": "example.push", "config": {"crm_list": list_, "refuse": ", ".join(refuse)}}

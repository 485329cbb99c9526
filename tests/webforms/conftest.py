from __future__ import annotations

import pytest

from liaison.webforms import services
from tests.testapp import contributions


@pytest.fixture(autouse=True)
def _empty_intake(db):
    """The intake is a file next to the test database: what a test left there goes with it."""
    from liaison.webforms import intake

    intake.reset()
    yield
    store = intake.store()
    store.remove([pk for pk, _ in store.take(100_000)])


@pytest.fixture(autouse=True)
def _fresh_test_contributions():
    contributions.PUSHED.clear()
    contributions.FAILURES.clear()
    services._cache.clear()
    yield
    contributions.PUSHED.clear()
    contributions.FAILURES.clear()


SIGNUP_FIELDS = [
    {"label": "E-mail", "type": "email", "required": True, "contact_field": "email"},
    {"label": "First name", "type": "text", "required": True, "contact_field": "first_name"},
    {"label": "Last name", "type": "text", "contact_field": "last_name"},
    {"label": "Age", "type": "number", "validation": {"min": 18, "max": 120}},
    {"label": "Code", "type": "text", "validation": {"pattern": "[A-Z]{3}", "pattern_message": "Three capitals."}},
    {"label": "Colour", "type": "select", "options": "red|Red\nblue|Blue"},
    {"label": "Topics", "type": "checkbox", "options": [{"value": "news", "label": "News"},
                                                        {"value": "events", "label": "Events"}]},
    {"label": "I agree", "key": "consent", "type": "checkbox", "required": True},
    {"label": "Source", "key": "utm_source", "type": "hidden", "default": "direct"},
]


@pytest.fixture
def signup(db):
    """A published form with one field of each core type."""
    return services.save_form({"name": "Sign-up", "fields": SIGNUP_FIELDS})


GOOD = {"e_mail": "ann@example.com", "first_name": "Ann", "last_name": "Lee", "age": "30", "code": "ABC",
        "colour": "blue", "topics": ["news", "events"], "consent": "1"}


@pytest.fixture(autouse=True)
def _no_views_left_behind():
    """Views are written in batches; a test's unwritten ones must not reach the next test."""
    yield
    with services._views_lock:
        services._views.clear()

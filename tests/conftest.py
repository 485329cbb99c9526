"""Shared fixtures and the rules for optional services.

Tests marked ``e2e``, ``postgres`` or ``celery`` skip with a clear reason when their
service is missing, except under ``LIAISON_REQUIRE_ALL=1`` (CI), where any skip fails.
"""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_ALL = os.environ.get("LIAISON_REQUIRE_ALL") == "1"
ON_POSTGRES = os.environ.get("LIAISON_TEST_DB") == "postgres"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_ALL and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"Skipped, but LIAISON_REQUIRE_ALL=1 forbids skipping: {reason}"


def _postgres_error() -> str | None:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        return "LIAISON_TEST_DB=postgres but the settings do not point at PostgreSQL"
    try:
        psycopg.connect(host=db["HOST"] or None, port=db["PORT"] or None, user=db["USER"] or None,
                        password=db["PASSWORD"] or None, dbname="postgres", connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        return f"PostgreSQL is not reachable: {str(exc).strip()}"
    return None


def pytest_collection_modifyitems(config, items):
    if ON_POSTGRES:
        error = _postgres_error()
        if error:
            for item in items:
                item.add_marker(pytest.mark.skip(reason=error))


@pytest.fixture(autouse=True)
def _instant_retries(monkeypatch):
    """HTTP retries and back-offs wait for real only where a test asks for it."""
    monkeypatch.setattr("liaison.core.http.client._sleep", lambda seconds: None)


@pytest.fixture(autouse=True)
def _fresh_budgets():
    from liaison.core.http.budget import reset_budgets

    reset_budgets()
    yield
    reset_budgets()


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run on_commit callbacks (job dispatch, signals) as they would after a real commit."""
    def runner():
        return django_capture_on_commit_callbacks(execute=True)
    return runner


@pytest.fixture
def admin_user(db):
    from tests.factories import UserFactory

    return UserFactory(username="admin", role="admin", is_superuser=True)


@pytest.fixture
def marketer(db):
    from tests.factories import UserFactory

    return UserFactory(username="marketer", role="marketer")


@pytest.fixture
def reader(db):
    from tests.factories import UserFactory

    return UserFactory(username="reader", role="readonly")


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def marketer_client(client, marketer):
    client.force_login(marketer)
    return client


@pytest.fixture
def api(db):
    """An API client acting as a given user: api(user).get(...)."""
    from django.test import Client

    from liaison.users.services import create_api_token

    def make(user):
        _, token = create_api_token(user, "tests")
        return Client(HTTP_AUTHORIZATION=f"Bearer {token}", content_type="application/json")

    return make


def chromium_path() -> str | None:
    return os.environ.get("LIAISON_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def _smtp_process_server():
    from tests.smtp import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server(_smtp_process_server, settings):
    """A real SMTP server (aiosmtpd, loopback) as Django's e-mail backend; ``.messages`` holds
    what it received, parsed by the ``email`` package (see tests/smtp.py)."""
    recorder = _smtp_process_server.recorder
    recorder.reset()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = _smtp_process_server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    yield recorder
    recorder.reset()

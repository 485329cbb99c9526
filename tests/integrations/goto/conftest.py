"""Fixtures for the GoTo integration tests: the sandbox mounted in-process, a connected account."""

from __future__ import annotations

import httpx
import pytest
from django.test import Client as DjangoClient

from liaison.core.http import DbTokenStore, Token, transports
from liaison.integrations import services as framework
from liaison.integrations.goto import services
from liaison.sandbox.goto import GoToSandbox, SeedConfig

API = "http://goto.test"

SMALL = {"organizers": 1, "webinars": 6, "registrants_per_webinar": 12, "attendance_ratio": 0.6,
         "series_ratio": 0.2, "sequence_ratio": 0.2, "live_webinars": 1, "trainings": 2,
         "registrants_per_training": 5, "meetings": 3, "attendees_per_meeting": 3, "assist_sessions": 4,
         "history_days": 30, "future_days": 30}


class Deliveries:
    """Webhook deliveries of the sandbox, posted into Liaison through Django's test client."""

    def __init__(self):
        self.enabled = True
        self.answers: list[tuple[str, int, bytes]] = []

    def __call__(self, url: str, headers: dict[str, str], body: bytes) -> int:
        if not self.enabled:
            return 599
        path = url.split("://", 1)[1].split("/", 1)[1]
        extra = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items() if k.lower() != "content-type"}
        response = DjangoClient().post("/" + path, data=body, content_type="application/json", **extra)
        self.answers.append((url, response.status_code, response.content))
        return response.status_code


@pytest.fixture(autouse=True)
def fast_budget(monkeypatch):
    """GoTo's 10 calls/s budget would make every sync test wait: tests lift it (the figure is
    checked in test_client; bench/goto_sync.py measures syncs under the real budget)."""
    from liaison.integrations.goto import client

    original = client.REQUESTS_PER_SECOND
    monkeypatch.setattr(client, "REQUESTS_PER_SECOND", 10_000)
    return original


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The GoToAssist monitor caches GoTo's answers for 15 s: each test starts without them."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def deliveries():
    return Deliveries()


class Scripted:
    """WSGI wrapper of the sandbox: scripted failures of chosen calls, as GoTo answers them.

    ``fail(status, body, times, when=(method, path) -> bool, after=N)``: once N matching
    calls went through, the next ``times`` matching calls answer ``status`` with ``body``.
    """

    def __init__(self, app):
        self.app = app
        self.rules: list[dict] = []
        self.passed = 0

    def fail(self, status: int, body: dict, times: int = 1, when=None, after: int = 0,
             headers: list[tuple[str, str]] | None = None) -> None:
        self.rules.append({"status": status, "body": body, "times": times, "after": after,
                           "when": when or (lambda method, path: True), "headers": headers or []})

    def clear(self) -> None:
        self.rules.clear()
        self.passed = 0

    def __call__(self, environ, start_response):
        import json

        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        rule = next((r for r in self.rules if r["when"](method, path)), None)
        if rule is not None and self.passed >= rule["after"]:
            rule["times"] -= 1
            if rule["times"] <= 0:
                self.rules.remove(rule)
            data = json.dumps(rule["body"]).encode()
            start_response(f"{rule['status']} Failure", [("Content-Type", "application/json"),
                                                         ("Content-Length", str(len(data))), *rule["headers"]])
            return [data]
        if rule is not None:
            self.passed += 1
        return self.app(environ, start_response)


def make_sandbox(deliveries=None, **config) -> GoToSandbox:
    return GoToSandbox(seed=5, config=SeedConfig(**{**SMALL, **config}), deliver=deliveries, sleep=lambda s: None)


@pytest.fixture
def sandbox(deliveries):
    sb = make_sandbox(deliveries)
    sb.scripted = Scripted(sb)
    with transports.mounted(API, httpx.WSGITransport(app=sb.scripted)):
        yield sb


def create_account(admin_user, name="Marketing GoTo", **values):
    settings = {"client_id": "liaison-demo", "client_secret": "liaison-demo-secret", "api_base_url": API,
                "auth_base_url": API, "webhooks": False, **values}
    return framework.create_integration("goto", name, settings, user=admin_user)


def connect(integration, sandbox, user=None) -> str:
    """Store a token as the OAuth flow would, then discover the account (as on_connected does)."""
    DbTokenStore(integration.credential_key).save(Token.from_response(sandbox.mint_token(user)))
    message = services.discover_account(integration)
    integration.refresh_from_db()
    return message


@pytest.fixture
def account(db, sandbox, admin_user):
    integration = create_account(admin_user)
    connect(integration, sandbox)
    return integration


def sync(integration, **options):
    """One sync run in this process; its SyncRun (a failed run is returned, not raised)."""
    from liaison.integrations.models import SyncRun
    from liaison.integrations.sync import run_sync

    try:
        run_sync(None, integration.pk, "test", options)
    except Exception:  # noqa: BLE001 - the run records the failure
        pass
    return SyncRun.objects.filter(integration=integration).latest("started_at")


def slot(sandbox, days: float = 3, hours: float = 1):
    from datetime import timedelta

    start = (sandbox.now() + timedelta(days=days)).replace(microsecond=0, second=0)
    return start, start + timedelta(hours=hours)

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

SMALL = dict(organizers=1, webinars=6, registrants_per_webinar=12, attendance_ratio=0.6, series_ratio=0.2,
             sequence_ratio=0.2, live_webinars=1, trainings=2, registrants_per_training=5, meetings=3,
             attendees_per_meeting=3, assist_sessions=4, history_days=30, future_days=30)


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


@pytest.fixture
def deliveries():
    return Deliveries()


def make_sandbox(deliveries=None, **config) -> GoToSandbox:
    return GoToSandbox(seed=5, config=SeedConfig(**{**SMALL, **config}), deliver=deliveries, sleep=lambda s: None)


@pytest.fixture
def sandbox(deliveries):
    sb = make_sandbox(deliveries)
    with transports.mounted(API, httpx.WSGITransport(app=sb)):
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

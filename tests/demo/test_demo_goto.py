"""``liaison up --demo``'s GoTo wiring: the account is created, connected to the sandbox
through the real OAuth flow (the sandbox approving by itself) and synchronised."""

from __future__ import annotations

import httpx
import pytest
from django.conf import settings

from liaison.core.http import transports
from liaison.core.models import Job
from liaison.demo import goto as demo_goto
from liaison.demo import sandboxes
from liaison.integrations.goto.models import Event, Registration, WebhookChannel
from liaison.integrations.models import Integration, SyncRun
from liaison.sandbox.common import Mount
from liaison.sandbox.goto import create_app


@pytest.fixture
def mounted_sandbox(monkeypatch):
    monkeypatch.setattr("liaison.integrations.goto.client.REQUESTS_PER_SECOND", 10_000)  # no waiting in tests
    sandbox = create_app(**sandboxes.demo_options("goto"), sleep=lambda s: None)
    base = demo_goto.sandbox_url()
    with transports.mounted(base, httpx.WSGITransport(app=Mount({demo_goto.SANDBOX_PATH: sandbox}))):
        yield sandbox


@pytest.mark.django_db
def test_the_demo_account_connects_and_syncs(admin_user, mounted_sandbox, run_on_commit):
    with run_on_commit():
        message = demo_goto.prepare()
    assert "connecting to the sandbox" in message
    integration = Integration.objects.get(name=demo_goto.DEMO_NAME)
    assert integration.settings["api_base_url"] == f"{settings.LIAISON_BASE_URL}/sandbox/goto"
    assert integration.owner == admin_user
    connect = Job.objects.get(kind="demo.connect_goto")
    assert connect.status == "succeeded", connect.error
    integration.refresh_from_db()
    assert integration.status == "connected"
    assert integration.account["organizer_key"] == str(mounted_sandbox.default_organizer().organizer_key)
    run = SyncRun.objects.get(integration=integration)
    assert run.status == "succeeded" and run.trigger == "demo"
    assert Event.objects.filter(product="webinar").exists() and Registration.objects.exists()
    # Something to show and to register to: past webinars with attendance, and upcoming ones.
    assert Event.objects.filter(product="webinar", status="past").exists()
    assert Event.objects.filter(product="webinar", status="upcoming").exists()
    assert WebhookChannel.objects.get(integration=integration).state == "active"
    # Webinar segments and a registration form to try at once.
    from liaison.demo.services import DEMO_GOTO_SEGMENTS
    from liaison.segments.models import Segment
    from liaison.webforms.models import Form

    assert Segment.objects.filter(name__in=[name for name, _, _ in DEMO_GOTO_SEGMENTS]).count() == 2
    registration = Form.objects.get(name="Webinar registration")
    assert registration.fields.filter(type="goto.webinar.upcoming", required=True).exists()
    # Starting the demo again does not connect twice.
    assert "is connected to the sandbox" in demo_goto.prepare()
    assert Job.objects.filter(kind="demo.connect_goto").count() == 1


@pytest.mark.django_db
def test_the_connection_job_retries_while_the_server_is_not_up(admin_user, run_on_commit):
    with run_on_commit():
        demo_goto.prepare("http://127.0.0.1:9")  # nothing listens there: connection refused
    job = Job.objects.get(kind="demo.connect_goto")
    assert job.status == "retrying" and "Attempt 1 failed" in job.log

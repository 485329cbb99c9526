"""The read-only GoTo API: events with counts, registrations, attendances, support sessions."""

from __future__ import annotations

import json

import pytest

from liaison.integrations.goto.models import AssistSession, Attendance, Event, Registration
from tests.integrations.goto.conftest import sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader_api(api, reader, account, sandbox):
    assert sync(account).status == "succeeded"
    return api(reader)


def get(client, url, **params):
    response = client.get(url, params)
    return response.status_code, json.loads(response.content)


def test_events_with_counts_filters_and_detail(reader_api, account):
    status, body = get(reader_api, "/api/integrations/goto/events", product="webinar", limit=100)
    assert status == 200 and body["count"] == Event.objects.filter(product="webinar").count()
    item = next(e for e in body["items"] if e["attended"])
    event = Event.objects.get(pk=item["id"])
    assert item["registered"] == event.registrations.filter(status__in=Registration.ACTIVE).count()
    assert item["no_show"] == item["registered"] - item["attended"]
    assert item["provider_key"] == event.provider_key and isinstance(item["provider_key"], str)
    status, detail = get(reader_api, f"/api/integrations/goto/events/{event.pk}")
    assert status == 200 and [s["provider_key"] for s in detail["sessions"]] == list(
        event.sessions.values_list("provider_key", flat=True))
    _, past = get(reader_api, "/api/integrations/goto/events", status="past", integration=account.pk)
    assert {e["status"] for e in past["items"]} == {"past"}
    assert get(reader_api, "/api/integrations/goto/events", product="webinars")[0] == 422
    assert get(reader_api, "/api/integrations/goto/events/999999")[0] == 404


def test_registrations_and_attendances(reader_api):
    attendance = Attendance.objects.filter(event__product="webinar").first()
    _, regs = get(reader_api, "/api/integrations/goto/registrations", event=attendance.event_id, limit=500)
    assert regs["count"] == attendance.event.registrations.count()
    assert {r["email"] for r in regs["items"]} >= {attendance.email}
    _, one = get(reader_api, "/api/integrations/goto/registrations", email=attendance.email.upper())
    assert {r["email"].lower() for r in one["items"]} == {attendance.email_key}
    _, atts = get(reader_api, "/api/integrations/goto/attendances", session=attendance.session_id, limit=500)
    row = next(a for a in atts["items"] if a["id"] == attendance.pk)
    assert row["duration_seconds"] == attendance.duration_seconds and row["intervals"] == attendance.intervals
    assert row["session_key"] == attendance.session.provider_key
    assert get(reader_api, "/api/integrations/goto/registrations", status="gone")[0] == 422


def test_support_sessions(reader_api):
    _, body = get(reader_api, "/api/integrations/goto/assist-sessions", status="complete")
    assert body["count"] == AssistSession.objects.filter(status="complete").count()


def test_the_api_needs_a_token(client, account):
    assert client.get("/api/integrations/goto/events").status_code == 401


def test_sync_options_are_checked_before_a_job_is_queued(api, admin_user, account):
    client = api(admin_user)
    response = client.post(f"/api/integrations/{account.pk}/sync", {"options": {"product": "webinars"}},
                           content_type="application/json")
    assert response.status_code == 422
    assert json.loads(response.content)["errors"]["product"] == [
        "Unknown product “webinars”: use webinar, training, meeting or assist."]
    from liaison.core.models import Job

    assert not Job.objects.exists()

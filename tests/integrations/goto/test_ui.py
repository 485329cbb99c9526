"""The GoTo pages: account page, event lists and detail (with the chart), support sessions,
webhooks, sync buttons, contact timeline entries and the OAuth connect flow from the UI."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from django.utils import timezone
from django.utils.html import escape

from liaison.core.models import Job
from liaison.integrations.goto.models import Attendance, Event, Registration, WebhookChannel
from tests.integrations.goto.conftest import API, create_account, sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(account, sandbox):
    assert sync(account).status == "succeeded"
    return account


def test_the_account_page_shows_products_counts_and_webhooks(admin_client, synced):
    page = admin_client.get(f"/integrations/{synced.pk}/").content.decode()
    for label in ("GoToWebinar", "GoToTraining", "GoToMeeting", "GoToAssist"):
        assert f"Sync {label} now" in page
    registrations = Registration.objects.filter(event__product="webinar", status__in=Registration.ACTIVE).count()
    assert f"<dt>Registrations</dt><dd>{registrations}</dd>" in page
    assert "Organizer key" in page and synced.account["organizer_key"] in page
    assert "Off: GoToWebinar changes arrive with each sync" in page
    assert "available (resolution, rating, feedback)" in page
    assert f"/integrations/goto/{synced.pk}/events/?product=webinar" in page


def test_event_list_counts_filters_and_pages(admin_client, synced):
    url = f"/integrations/goto/{synced.pk}/events/"
    past = Event.objects.filter(product="webinar", status="past").exclude(attendances=None).first()
    registered = past.registrations.filter(status__in=Registration.ACTIVE).count()
    attended = Attendance.objects.filter(event=past).values("email_key").distinct().count()
    page = admin_client.get(url, {"product": "webinar", "status": "past"}).content.decode()
    row = page[page.index(escape(past.title)):].split("</tr>")[0]
    assert [f'<td class="num">{n}</td>' in row for n in (registered, attended, registered - attended)] == [True] * 3
    assert "Upcoming" not in page.split("<tbody>")[1]
    found = admin_client.get(url, {"product": "webinar", "q": past.title[:8]}).content.decode()
    assert escape(past.title) in found
    assert "No GoToMeeting events match" in admin_client.get(url, {"product": "meeting", "q": "zzz"}).content.decode()
    Event.objects.bulk_create([Event(integration=synced, product="training", provider_key=str(n), title=f"T{n}",
                                     starts_at=timezone.now() + timedelta(days=n)) for n in range(1, 60)])
    paged = admin_client.get(url, {"product": "training", "page": 2}).content.decode()
    assert "Page 2" in paged
    assert admin_client.get(url, {"product": "nope"}).status_code == 404


def test_event_detail_with_registrants_attendees_and_the_chart(admin_client, synced):
    event = Event.objects.filter(product="webinar", status="past").exclude(attendances=None).first()
    url = f"/integrations/goto/{synced.pk}/events/{event.pk}/"
    page = admin_client.get(url).content.decode()
    attendance = event.attendances.first()
    assert attendance.email in page and "<svg" in page and "present at once" in page
    assert page.count("<rect") >= 60 and "peak" in page
    attended = event.attendances.values("email_key").distinct().count()
    assert f"<strong>{attended}</strong> attended" in page
    cancelled = event.registrations.first()
    Registration.objects.filter(pk=cancelled.pk).update(status="cancelled", cancelled_at=timezone.now())
    only = admin_client.get(url, {"rstatus": "cancelled"}).content.decode()
    assert cancelled.email in only and "Cancelled" in only
    assert admin_client.get(f"/integrations/goto/{synced.pk}/events/999999/").status_code == 404


def test_contact_timeline_shows_title_times_duration_and_join_link(admin_client, synced):
    attendance = Attendance.objects.filter(event__product="webinar", duration_seconds__gt=120).first()
    page = admin_client.get(f"/contacts/{attendance.contact_id}/").content.decode()
    assert "Attended a webinar" in page and escape(f"Attended “{attendance.event.title}”") in page
    assert "min" in page and "joined" in page
    registration = Registration.objects.filter(event__product="webinar", status="approved").exclude(join_url="").first()
    page = admin_client.get(f"/contacts/{registration.contact_id}/").content.decode()
    assert registration.join_url in page and "Registered for a webinar" in page


def test_sync_buttons_queue_jobs_and_respect_roles(marketer_client, reader, synced, run_on_commit):
    with run_on_commit():
        response = marketer_client.post(f"/integrations/goto/{synced.pk}/sync/meeting/")
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.status == "succeeded" and job.params["options"] == {"product": "meeting"}
    event = Event.objects.filter(product="webinar").first()
    with run_on_commit():
        marketer_client.post(f"/integrations/goto/{synced.pk}/events/{event.pk}/sync/")
    assert Job.objects.filter(params__options__id=event.provider_key).exists()
    from django.test import Client

    client = Client()
    client.force_login(reader)
    assert client.post(f"/integrations/goto/{synced.pk}/sync/webinar/").status_code == 403
    assert client.get(f"/integrations/goto/{synced.pk}/events/").status_code == 200


def test_support_sessions_page_with_and_without_reports(admin_client, synced, sandbox):
    url = f"/integrations/goto/{synced.pk}/assist/"
    page = admin_client.get(url).content.decode()
    assert "Resolution" in page and "not available" not in page
    synced.account = {**synced.account, "g2a_capabilities": []}
    synced.save(update_fields=["account"])
    page = admin_client.get(url).content.decode()
    assert "Session reports (resolution, customer rating and feedback) are not available" in page
    assert "Resolution" not in page
    assert "not available for this GoTo account" in admin_client.get(f"/integrations/{synced.pk}/").content.decode()


def test_webhooks_page_turns_them_on_and_off_for_admins_only(admin_client, marketer, account, sandbox):
    from django.test import Client

    url = f"/integrations/goto/{account.pk}/webhooks/"
    assert "Nothing received yet." in admin_client.get(url).content.decode()
    other = Client()
    other.force_login(marketer)
    assert other.post(f"{url}switch/", {"action": "enable"}).status_code == 403
    admin_client.post(f"{url}switch/", {"action": "enable"})
    assert WebhookChannel.objects.get().state == "active"
    page = admin_client.get(url).content.decode()
    assert "Turn off" in page and "data-confirm" in page and "/integrations/goto/webhooks/" in page
    admin_client.post(f"{url}switch/", {"action": "disable"})
    assert WebhookChannel.objects.get().state == "off" and not sandbox.state.webhooks


def test_connect_from_the_settings_page_discovers_the_organizer(admin_client, sandbox, admin_user):
    integration = create_account(admin_user)
    response = admin_client.post(f"/integrations/{integration.pk}/connect/")
    authorize = urlsplit(response["Location"])
    params = parse_qs(authorize.query)
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == f"{API}/oauth/authorize"
    assert params["client_id"] == ["liaison-demo"]
    # The sandbox's consent page, approved (its auto-approve switch stands for the user's click).
    query = urlencode({**{k: v[0] for k, v in params.items()}, "sandbox_auto_approve": "1"})
    with httpx.Client(transport=httpx.WSGITransport(app=sandbox), base_url=API) as browser:
        consent = browser.get(f"/oauth/authorize?{query}")
    callback = urlsplit(consent.headers["location"])
    assert callback.path == "/integrations/oauth/callback/"
    done = admin_client.get(f"{callback.path}?{callback.query}", follow=True)
    assert "Connected to GoTo as" in done.content.decode()
    integration.refresh_from_db()
    assert integration.status == "connected"
    assert integration.account["organizer_key"] == str(sandbox.default_organizer().organizer_key)

"""The integration framework, proven with the test-only Example CRM integration.

Covers the three auth styles' plumbing (OAuth2 connect flow, HTTP Basic; SOAP sessions
are covered in tests/core/test_http.py), the settings page generated from the schema
with write-only secrets, check connection, sync now (job -> SyncRun with counts and API
calls), cursors, field mappings, schedules and the CLI; and the shared integration suite.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.core.management import call_command

from liaison.contacts.models import Activity, Contact
from liaison.core import jobs, schedules
from liaison.core.http import transports
from liaison.core.models import Credential, Job, Schedule
from liaison.integrations import services
from liaison.integrations.models import ApiCall, Integration, SyncRun
from liaison.integrations.sync import run_sync
from tests.integrations.suite import SharedIntegrationSuite
from tests.testapp.models import ExamplePerson
from tests.testapp.provider import BIG, ExampleProvider

BASE = "http://example.test"


@pytest.fixture
def provider():
    provider = ExampleProvider()
    with transports.mounted(BASE, httpx.WSGITransport(app=provider)):
        yield provider


def connect(integration: Integration, provider: ExampleProvider) -> None:
    """Store a token as the OAuth flow would."""
    from liaison.core.http import DbTokenStore, Token

    pair = provider.token_pair()
    DbTokenStore(integration.credential_key).save(Token.from_response(pair))


@pytest.fixture
def integration(db, provider, admin_user):
    integration = services.create_integration(
        "example", "Main CRM", {"base_url": BASE, "client_id": "cid", "client_secret": "csecret", "page_size": 10},
        user=admin_user)
    connect(integration, provider)
    return integration


class ExampleHarness:
    page_size = 10

    def __init__(self, integration, provider):
        self.integration = integration
        self.provider = provider

    def seed(self, count):
        self.provider.seed(count, start=len(self.provider.people))

    def run_sync(self, **options):
        try:
            run_sync(None, self.integration.pk, "test", options)
        except Exception:  # noqa: BLE001 - the run records the failure
            pass
        return SyncRun.objects.filter(integration=self.integration).latest("started_at")

    def snapshot(self):
        return {"facts": ExamplePerson.objects.filter(integration=self.integration).count(),
                "contacts": Contact.objects.count(), "activities": Activity.objects.count()}

    def crash_after_pages(self, pages):
        self.provider.pages_served = 0
        self.provider.fail(500, {"error": "crash"}, times=1000, after_pages=pages)

    def clear_faults(self):
        self.provider.faults.clear()

    def fail_next(self, status, times=1, retry_after=None, message=""):
        self.provider.fail(status, {"error": "failure", "message": message or "failure"}, times=times,
                           retry_after=retry_after)

    def expire_token(self):
        self.provider.expire_tokens()

    def token_refreshes(self):
        return sum(1 for method, path, status in self.provider.calls if path == "/oauth/token" and status == 200)

    def malformed_next(self, times=1):
        self.provider.malformed = times

    def remote_calls(self):
        return len(self.provider.calls)


class TestExampleIntegration(SharedIntegrationSuite):
    @pytest.fixture
    def harness(self, integration, provider):
        return ExampleHarness(integration, provider)


# -- settings, secrets, check ----------------------------------------------------------------

@pytest.mark.django_db
def test_settings_page_is_generated_from_the_schema_and_secrets_are_write_only(admin_client, provider):
    page = admin_client.get("/integrations/add/example/").content.decode()
    assert 'name="client_secret"' in page and 'type="password"' in page and "Where the account lives" in page
    response = admin_client.post("/integrations/add/example/", {
        "name": "CRM", "base_url": BASE, "client_id": "cid", "client_secret": "csecret", "region": "us",
        "page_size": "0", "feature_people": "1"})
    assert response.status_code == 422
    assert "greater than or equal to 1" in response.content.decode()
    response = admin_client.post("/integrations/add/example/", {
        "name": "CRM", "base_url": BASE, "client_id": "cid", "client_secret": "csecret", "region": "us",
        "page_size": "20", "feature_people": "1"})
    integration = Integration.objects.get()
    assert response["Location"] == f"/integrations/{integration.pk}/"
    assert integration.settings["region"] == "us" and integration.secrets == {"client_secret": "csecret"}
    assert integration.features == {"people": True, "deals": False}
    settings_page = admin_client.get(f"/integrations/{integration.pk}/settings/").content.decode()
    assert "csecret" not in settings_page and "A value is stored" in settings_page
    admin_client.post(f"/integrations/{integration.pk}/settings/", {
        "name": "CRM", "base_url": BASE, "client_id": "cid2", "client_secret": "", "region": "eu", "page_size": "20",
        "published": "1"})
    integration.refresh_from_db()
    assert integration.secrets == {"client_secret": "csecret"} and integration.settings["client_id"] == "cid2"
    assert Schedule.objects.get(owner_key=integration.credential_key).cron == "*/15 * * * *"


@pytest.mark.django_db
def test_check_connection_reports_the_providers_answer(admin_client, integration, provider):
    response = admin_client.post(f"/integrations/{integration.pk}/check/", HTTP_HX_REQUEST="true")
    assert "Connected to Example Org." in response.content.decode()
    integration.refresh_from_db()
    assert integration.status == "connected"
    provider.fail(401, {"error": "invalid_client", "message": "Client disabled by the administrator"}, times=99)
    provider.faults[0].after_pages = 0
    provider.access_tokens.clear()
    provider.refresh_tokens.clear()
    result = services.check_connection(integration)
    assert not result.ok and "reconnect" in result.message
    integration.refresh_from_db()
    assert integration.status == "error"


@pytest.mark.django_db
def test_oauth_connect_flow(admin_client, provider, admin_user):
    integration = services.create_integration(
        "example", "CRM", {"base_url": BASE, "client_id": "cid", "client_secret": "csecret"}, user=admin_user)
    response = admin_client.post(f"/integrations/{integration.pk}/connect/")
    authorize = urlsplit(response["Location"])
    params = parse_qs(authorize.query)
    assert authorize.path == "/oauth/authorize" and params["client_id"] == ["cid"]
    assert params["redirect_uri"] == ["http://testserver/integrations/oauth/callback/"]
    # The provider's consent page redirects back with a code and our state.
    code = provider.issue_code()
    callback = admin_client.get("/integrations/oauth/callback/", {"code": code, "state": params["state"][0]})
    assert callback["Location"] == f"/integrations/{integration.pk}/"
    integration.refresh_from_db()
    assert integration.status == "connected" and integration.account == {"id": str(BIG), "name": "Example Org"}
    assert Credential.objects.get(key=integration.credential_key).refresh_token
    # A replayed or forged state is refused.
    again = admin_client.get("/integrations/oauth/callback/", {"code": "x", "state": params["state"][0]},
                             follow=True)
    assert "expired or was not started here" in again.content.decode()
    denied_start = urlsplit(admin_client.post(f"/integrations/{integration.pk}/connect/")["Location"])
    denied = admin_client.get("/integrations/oauth/callback/", {
        "error": "access_denied", "error_description": "The user said no",
        "state": parse_qs(denied_start.query)["state"][0]}, follow=True)
    assert "did not grant access: The user said no" in denied.content.decode()


@pytest.mark.django_db
def test_basic_auth_integration_syncs(provider, admin_user):
    integration = services.create_integration(
        "example_basic", "Basic", {"base_url": BASE, "username": "user", "password": "pass"}, user=admin_user)
    provider.seed(3)
    result = run_sync(None, integration.pk)
    assert result["status"] == "succeeded" and result["created"] == 3
    assert Contact.objects.filter(owner=admin_user).count() == 3
    services.update_integration(integration, values={"password": "wrong"})
    with pytest.raises(Exception) as info:
        run_sync(None, integration.pk)
    assert "did not accept the credentials" in str(info.value)


# -- syncing ------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_sync_now_enqueues_a_job_that_records_a_run_with_counts_and_calls(admin_client, integration, provider,
                                                                          django_capture_on_commit_callbacks):
    provider.seed(12)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/integrations/{integration.pk}/sync/")
    assert response.status_code == 302
    job = Job.objects.get(kind="integrations.sync")
    assert job.status == "succeeded"
    run = SyncRun.objects.get()
    assert (run.status, run.fetched, run.created, run.job_id) == ("succeeded", 12, 12, job.pk)
    assert run.api_calls == ApiCall.objects.filter(sync_run=run).count() == 2
    assert {row["path"] for row in run.api_summary} == {"/api/people"}
    page = admin_client.get(f"/integrations/{integration.pk}/runs/{run.pk}/").content.decode()
    assert "/api/people" in page and "Succeeded" in page
    # Incremental: nothing changed, one call; one change, one contact updated.
    run_sync(None, integration.pk)
    second = SyncRun.objects.latest("started_at")
    assert second.api_calls == 1 and second.fetched == 0
    provider.touch(3, first_name="Renamed")
    run_sync(None, integration.pk)
    third = SyncRun.objects.latest("started_at")
    assert (third.fetched, third.updated) == (1, 1)
    assert Contact.objects.get(email_key="person3@example.com").first_name == "Renamed"


@pytest.mark.django_db
def test_big_keys_are_stored_exactly(integration, provider):
    provider.seed(1)
    run_sync(None, integration.pk)
    assert ExamplePerson.objects.get().remote_id == str(BIG)


@pytest.mark.django_db
def test_second_sync_request_returns_the_active_job(integration):
    first = services.start_sync(integration)
    assert services.start_sync(integration).pk == first.pk


@pytest.mark.django_db
def test_unpublished_integration_does_not_sync(integration):
    services.update_integration(integration, published=False)
    with pytest.raises(Exception) as info:
        services.start_sync(integration)
    assert "unpublished" in str(info.value)
    assert not Schedule.objects.get(owner_key=integration.credential_key).enabled


@pytest.mark.django_db
def test_scheduled_sync_runs_through_the_job_runner(integration, provider):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    provider.seed(2)
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        created = [job for job in schedules.tick() if job.kind == "integrations.sync"]
        assert len(created) == 1
        jobs.run_job(created[0].pk)
    run = SyncRun.objects.get()
    assert run.trigger == "schedule" and run.created == 2


@pytest.mark.django_db
def test_a_removed_integration_code_is_reported_not_crashed(admin_client, db):
    ghost = Integration.objects.create(spec_key="uninstalled", name="Old account")
    page = admin_client.get(f"/integrations/{ghost.pk}/").content.decode()
    assert "is not installed" in page
    with pytest.raises(Exception) as info:
        run_sync(None, ghost.pk)
    assert "not installed" in str(info.value)


@pytest.mark.django_db
def test_field_mapping_page_uses_both_catalogues(admin_client, integration):
    page = admin_client.get(f"/integrations/{integration.pk}/mapping/").content.decode()
    assert "Person id (read-only)" in page and "First name" in page
    response = admin_client.post(f"/integrations/{integration.pk}/mapping/", {
        "rows": "2", "local_0": "first_name", "remote_0": "first_name", "direction_0": "both", "policy_0": "fill",
        "local_1": "position", "remote_1": "id", "direction_1": "out", "policy_1": "overwrite"})
    assert response.status_code == 422 and "does not let Liaison write" in response.content.decode()
    admin_client.post(f"/integrations/{integration.pk}/mapping/", {
        "rows": "1", "local_0": "first_name", "remote_0": "first_name", "direction_0": "in", "policy_0": "fill"})
    assert [(m.local_field, m.policy) for m in integration.mappings.all()] == [("first_name", "fill")]


@pytest.mark.django_db
def test_api_sync_check_runs_and_mappings(api, admin_user, integration, provider,
                                          django_capture_on_commit_callbacks):
    import json

    c = api(admin_user)
    check = json.loads(c.post(f"/api/integrations/{integration.pk}/check").content)
    assert check["ok"] and check["message"] == "Connected to Example Org."
    provider.seed(3)
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post(f"/api/integrations/{integration.pk}/sync", {"full": True},
                          content_type="application/json")
    assert response.status_code == 202
    runs = json.loads(c.get(f"/api/integrations/{integration.pk}/runs").content)
    assert runs["count"] == 1 and runs["items"][0]["created"] == 3 and runs["items"][0]["options"] == {"full": True}
    mapped = c.put(f"/api/integrations/{integration.pk}/mappings",
                   [{"local_field": "last_name", "remote_field": "last_name"}], content_type="application/json")
    assert mapped.status_code == 200
    bad = c.put(f"/api/integrations/{integration.pk}/mappings",
                [{"local_field": "nope", "remote_field": "last_name"}], content_type="application/json")
    assert bad.status_code == 422 and "rows[0].local_field" in json.loads(bad.content)["errors"]


@pytest.mark.django_db(transaction=True)
def test_cli_sync_with_progress_and_summary(integration, provider, capsys):
    provider.seed(15)
    call_command("sync", "example", "--account", "Main CRM")
    out = capsys.readouterr().out
    assert "Succeeded" in out and "15 fetched, 15 created" in out
    with pytest.raises(Exception) as info:
        call_command("sync", "example", "--colour", "red")
    assert "colour" in str(info.value) or "unrecognized" in str(info.value)
    with pytest.raises(Exception) as info:
        call_command("sync", "nothing")
    assert "No integration called 'nothing'" in str(info.value)


@pytest.mark.django_db
def test_delete_integration_removes_tokens_and_schedule(admin_client, integration):
    admin_client.post(f"/integrations/{integration.pk}/delete/")
    assert not Integration.objects.exists()
    assert not Credential.objects.exists()
    assert not Schedule.objects.filter(owner_key=integration.credential_key).exists()

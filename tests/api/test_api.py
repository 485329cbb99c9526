"""The REST API: CRUD, bad input (422 with field errors), 404, 403, tokens."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from liaison.contacts.models import Activity, Contact, Field
from liaison.core.models import Job
from liaison.integrations.models import Integration
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def body(response):
    return json.loads(response.content)


def test_requests_without_credentials_get_401(client):
    response = client.get("/api/contacts")
    assert response.status_code == 401 and "Bearer" in body(response)["detail"]
    bad = Client(HTTP_AUTHORIZATION="Bearer lsn_nope_nope")
    assert bad.get("/api/contacts").status_code == 401


def test_contact_crud(api, marketer):
    c = api(marketer)
    response = c.post("/api/contacts", {"email": "Ann@Example.com", "first_name": "Ann", "company": "Acme",
                                        "custom": {}}, content_type="application/json")
    assert response.status_code == 201, response.content
    created = body(response)
    assert created["email"] == "Ann@Example.com" and created["company"]["name"] == "Acme"
    assert created["owner_id"] == marketer.pk
    pk = created["id"]
    assert c.get(f"/api/contacts/{pk}").status_code == 200
    response = c.patch(f"/api/contacts/{pk}", {"last_name": "Lee"}, content_type="application/json")
    assert body(response)["last_name"] == "Lee" and body(response)["first_name"] == "Ann"
    listing = body(c.get("/api/contacts?q=lee"))
    assert listing["count"] == 1 and listing["items"][0]["id"] == pk
    assert c.delete(f"/api/contacts/{pk}").status_code == 204
    assert c.get(f"/api/contacts/{pk}").status_code == 404


@pytest.mark.parametrize("payload, field", [
    ({"email": "bad"}, "email"),
    ({"first_name": "no email"}, "email"),
    ({"email": "a@example.com", "points": "many"}, "points"),
    ({"email": "a@example.com", "shoe_size": 42}, "shoe_size"),
    ({"email": "a@example.com", "custom": {"nope": 1}}, "custom.nope"),
    ({"email": "a@example.com", "phone": "call me"}, "phone"),
])
def test_bad_contact_input_is_422_with_field_errors_and_changes_nothing(api, marketer, payload, field):
    response = api(marketer).post("/api/contacts", payload, content_type="application/json")
    assert response.status_code == 422, response.content
    assert field in body(response)["errors"], body(response)
    assert not Contact.objects.exists()


def test_malformed_json_is_422_not_500(api, marketer):
    response = api(marketer).post("/api/contacts", "{not json", content_type="application/json")
    assert response.status_code in (400, 422)


def test_duplicate_email_is_a_field_error(api, marketer):
    ContactFactory(email="dup@example.com")
    response = api(marketer).post("/api/contacts", {"email": "DUP@example.com"}, content_type="application/json")
    assert response.status_code == 422 and "already exists" in body(response)["errors"]["email"][0]


def test_bulk_upsert_reports_counts_and_row_errors(api, marketer):
    ContactFactory(email="old@example.com", first_name="Old")
    rows = [{"email": "new@example.com"}, {"email": "old@example.com", "first_name": "New"}, {"email": "bad"}]
    response = api(marketer).post("/api/contacts/bulk", {"rows": rows, "skip_invalid": True},
                                  content_type="application/json")
    result = body(response)
    assert (result["created"], result["updated"], result["unchanged"]) == (1, 1, 0)
    assert result["errors"] == [{"index": 2, "errors": {"email": "E-mail: 'bad' is not a valid e-mail address."}}]
    strict = api(marketer).post("/api/contacts/bulk", {"rows": rows}, content_type="application/json")
    assert strict.status_code == 422 and "rows[2].email" in body(strict)["errors"]


def test_bulk_policy_values_are_validated(api, marketer):
    response = api(marketer).post("/api/contacts/bulk", {"rows": [], "policy": {"first_name": "sometimes"}},
                                  content_type="application/json")
    assert response.status_code == 422


def test_activities_record_and_list(api, marketer):
    contact = ContactFactory()
    payload = [{"contact_id": contact.pk, "kind": "contact.note", "occurred_at": "2026-11-01T10:00:00Z",
                "title": "From the API", "dedup_key": "ext:1"}]
    c = api(marketer)
    assert body(c.post("/api/activities", payload, content_type="application/json")) == {"written": 1}
    assert body(c.post("/api/activities", payload, content_type="application/json")) == {"written": 0}
    listing = body(c.get(f"/api/contacts/{contact.pk}/activities"))
    assert listing["count"] == 1 and listing["items"][0]["title"] == "From the API"
    bad = c.post("/api/activities", [{**payload[0], "kind": "made.up", "dedup_key": "x"}],
                 content_type="application/json")
    assert bad.status_code == 422 and Activity.objects.count() == 1
    missing = c.post("/api/activities", [{**payload[0], "contact_id": 999999}], content_type="application/json")
    assert missing.status_code == 422


def test_companies_and_fields(api, marketer):
    c = api(marketer)
    assert c.post("/api/companies", {"name": "Acme", "website": "acme.test"},
                  content_type="application/json").status_code == 201
    assert c.post("/api/companies", {"name": "acme"}, content_type="application/json").status_code == 422
    response = c.post("/api/fields", {"alias": "tier", "label": "Tier", "type": "select", "choices": ["A", "B"]},
                      content_type="application/json")
    assert response.status_code == 201 and body(response)["choices"][0] == {"value": "A", "label": "A"}
    assert c.post("/api/fields", {"alias": "tier", "label": "Again"},
                  content_type="application/json").status_code == 422
    assert len(body(c.get("/api/fields"))) == 1
    assert c.delete(f"/api/fields/{Field.objects.get().pk}").status_code == 204


def test_csv_import_through_the_api(api, marketer):
    c = Client(HTTP_AUTHORIZATION=api(marketer).defaults["HTTP_AUTHORIZATION"])
    response = c.post("/api/imports", {"file": SimpleUploadedFile("p.csv", b"mail,name\na@example.com,Ann\n")})
    assert response.status_code == 201, response.content
    imp = body(response)["contact_import"]
    assert imp["mapping"] == {"0": "email"}
    json_client = api(marketer)
    mapped = json_client.put(f"/api/imports/{imp['id']}/mapping", {"mapping": {"0": "email", "1": "first_name"}},
                             content_type="application/json")
    assert body(mapped)["preview"][0]["mapped"] == {"email": "a@example.com", "first_name": "Ann"}
    started = json_client.post(f"/api/imports/{imp['id']}/start")
    assert body(started)["status"] == "queued"
    from liaison.core import jobs

    jobs.run_job(body(started)["job_id"])
    assert body(json_client.get(f"/api/imports/{imp['id']}"))["created_count"] == 1


def test_read_only_role_is_enforced_in_the_api(api, reader):
    c = api(reader)
    assert c.get("/api/contacts").status_code == 200
    response = c.post("/api/contacts", {"email": "a@example.com"}, content_type="application/json")
    assert response.status_code == 403 and "edit rights" in body(response)["detail"]
    assert not Contact.objects.exists()


def test_admin_only_operations(api, marketer, admin_user):
    payload = {"spec": "example_basic", "name": "Main", "settings": {"username": "u", "password": "p"}}
    assert api(marketer).post("/api/integrations", payload, content_type="application/json").status_code == 403
    assert api(marketer).get("/api/users").status_code == 403
    assert api(admin_user).post("/api/integrations", payload, content_type="application/json").status_code == 201


def test_integration_secrets_are_write_only(api, admin_user):
    c = api(admin_user)
    created = body(c.post("/api/integrations", {"spec": "example_basic", "name": "Main",
                                                "settings": {"username": "u", "password": "hunter2"}},
                          content_type="application/json"))
    assert created["secrets_set"] == ["password"] and "password" not in created["settings"]
    assert "hunter2" not in c.get(f"/api/integrations/{created['id']}").content.decode()
    # Leaving a secret out keeps it; an unknown setting is refused.
    patched = c.patch(f"/api/integrations/{created['id']}", {"settings": {"page_size": 5}},
                      content_type="application/json")
    assert body(patched)["settings"]["page_size"] == 5
    assert Integration.objects.get().secrets == {"password": "hunter2"}
    bad = c.patch(f"/api/integrations/{created['id']}", {"settings": {"page_size": 0, "colour": "red"}},
                  content_type="application/json")
    assert bad.status_code == 422 and "colour" in body(bad)["errors"]


def test_integration_create_validation(api, admin_user):
    response = api(admin_user).post("/api/integrations", {"spec": "example_basic", "name": "",
                                                          "settings": {"page_size": 1000}},
                                    content_type="application/json")
    errors = body(response)["errors"]
    assert response.status_code == 422 and {"name", "username", "password", "page_size"} <= set(errors)
    unknown = api(admin_user).post("/api/integrations", {"spec": "nope", "name": "x"},
                                   content_type="application/json")
    assert unknown.status_code == 422 and "spec" in body(unknown)["errors"]


def test_specs_describe_settings_with_secret_kinds(api, marketer):
    specs = {s["key"]: s for s in body(api(marketer).get("/api/integrations/specs"))}
    kinds = {f["name"]: f["kind"] for f in specs["example"]["settings"]}
    assert kinds["client_secret"] == "secret" and kinds["region"] == "choice" and kinds["page_size"] == "int"


def test_jobs_api(api, marketer):
    from liaison.core import jobs

    c = api(marketer)
    job = jobs.enqueue("integrations.prune_api_calls", dispatch_now=False)
    assert body(c.get("/api/jobs?status=queued"))["count"] == 1
    assert c.get("/api/jobs?status=bogus").status_code == 422
    assert body(c.post(f"/api/jobs/{job.pk}/cancel"))["status"] == "cancelled"
    assert c.post(f"/api/jobs/{job.pk}/cancel").status_code == 422
    retried = c.post(f"/api/jobs/{job.pk}/retry")
    assert retried.status_code == 201 and Job.objects.count() == 2
    assert "log" in body(c.get(f"/api/jobs/{job.pk}"))


def test_tokens_api(api, marketer):
    c = api(marketer)
    response = c.post("/api/me/tokens", {"name": "script"}, content_type="application/json")
    token = body(response)["token"]
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/me").status_code == 200
    c.delete(f"/api/me/tokens/{body(response)['id']}")
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/api/me").status_code == 401
    assert c.post("/api/me/tokens", {"name": " "}, content_type="application/json").status_code == 422


def test_openapi_document_is_served(client):
    schema = body(client.get("/api/openapi.json"))
    assert "/api/contacts" in schema["paths"] and "/api/integrations/{integration_id}/sync" in schema["paths"]
    assert client.get("/api/docs").status_code == 200

"""The forms API: CRUD with fields and actions (validated), submissions, CSV, stats, catalogues."""

from __future__ import annotations

import json

import pytest

from liaison.webforms import services
from liaison.webforms.models import Form
from tests.webforms.conftest import GOOD, SIGNUP_FIELDS

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def body(response):
    return json.loads(response.content)


def test_form_crud(api, marketer):
    c = api(marketer)
    response = c.post("/api/forms", {"name": "Newsletter"}, content_type="application/json")
    assert response.status_code == 201, response.content
    created = body(response)
    assert created["url"].endswith("/f/newsletter/") and created["fields"][0]["contact_field"] == "email"
    pk = created["id"]
    topics = {"label": "Topics", "type": "checkbox", "options": [{"value": "a", "label": "A"}]}
    response = c.patch(f"/api/forms/{pk}", {"fields": [*created["fields"], topics],
                                            "actions": [{"key": "contact.points", "config": {"points": 2}}]},
                       content_type="application/json")
    assert response.status_code == 200, response.content
    assert [f["key"] for f in body(response)["fields"]] == ["email", "topics"]
    assert body(response)["actions"] == [{"key": "contact.points", "config": {"points": 2, "reason": ""}}]
    assert body(c.get("/api/forms?q=news"))["count"] == 1
    assert c.delete(f"/api/forms/{pk}").status_code == 204
    assert c.get(f"/api/forms/{pk}").status_code == 404


@pytest.mark.parametrize("payload, field", [
    ({"name": ""}, "name"),
    ({"name": "x", "fields": [{"label": "A", "type": "select"}]}, "fields.0.options"),
    ({"name": "x", "fields": [{"label": "A", "unknown": 1}]}, "fields.0.unknown"),
    ({"name": "x", "actions": [{"key": "segments.add", "config": {}}]}, "actions.0.config.segment_id"),
    ({"name": "x", "fields": [{"label": "A"}], "actions": [{"key": "contact.points", "config": {"points": 1}}]},
     "__all__"),
])
def test_bad_forms_are_422_with_field_errors_and_change_nothing(api, marketer, payload, field):
    response = api(marketer).post("/api/forms", payload, content_type="application/json")
    assert response.status_code == 422, response.content
    assert field in body(response)["errors"], body(response)
    assert not Form.objects.exists()


def test_submissions_stats_and_export(api, reader, signup, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.submit(services.public_form(signup.slug), GOOD)
    services.count_view(signup)
    c = api(reader)
    listing = body(c.get(f"/api/forms/{signup.pk}/submissions"))
    assert listing["count"] == 1 and listing["items"][0]["data"]["topics"] == ["news", "events"]
    one = body(c.get(f"/api/forms/{signup.pk}/submissions/{listing['items'][0]['id']}"))
    assert one["contact_id"] and one["actions"] == []
    stats = body(c.get(f"/api/forms/{signup.pk}/stats?days=7"))
    assert (stats["views"], stats["submissions"], stats["conversion"]) == (1, 1, 100.0) and len(stats["days"]) == 7
    export = c.get(f"/api/forms/{signup.pk}/submissions/export")
    assert b"ann@example.com" in b"".join(export.streaming_content)
    assert c.get(f"/api/forms/{signup.pk}/submissions/999999").status_code == 404


def test_catalogues_of_field_types_and_actions(api, reader):
    c = api(reader)
    types = {t["key"]: t for t in body(c.get("/api/forms/field-types"))}
    assert {"text", "textarea", "email", "number", "date", "select", "radio", "checkbox", "hidden",
            "example.plan"} <= set(types)
    assert types["select"]["config"][0]["name"] == "multiple"
    actions = {a["key"]: a for a in body(c.get("/api/forms/action-types"))}
    assert {"segments.add", "segments.remove", "contact.points", "contact.update_field", "example.push"} <= set(actions)
    assert actions["example.push"]["runs_in_job"] is True
    assert actions["segments.add"]["config_schema"]["required"] == ["segment_id"]


def test_readers_cannot_change_forms(api, reader):
    assert api(reader).post("/api/forms", {"name": "x"}, content_type="application/json").status_code == 403


def test_fields_constant_keeps_its_shape():
    assert SIGNUP_FIELDS[0]["contact_field"] == "email"

"""The segments API: CRUD with field-level 422s, members, static changes, rebuild (202 + job)."""

from __future__ import annotations

import json

import pytest

from liaison.core.models import Job
from liaison.segments.models import Membership, Segment
from tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

TREE = {"match": "all", "rules": [{"filter": "contact.email", "operator": "ends_with", "value": "@acme.com"}]}


def body(response):
    return json.loads(response.content)


def test_segment_crud_members_and_rebuild(api, marketer, django_capture_on_commit_callbacks):
    ContactFactory(email="a@acme.com")
    ContactFactory(email="b@other.org")
    c = api(marketer)
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post("/api/segments", {"name": "Acme", "filters": TREE}, content_type="application/json")
    assert response.status_code == 201, response.content
    created = body(response)
    assert created["summary"] == "E-mail ends with “@acme.com”" and created["unavailable"] == []
    pk = created["id"]
    assert body(c.get(f"/api/segments/{pk}"))["member_count"] == 1
    members = body(c.get(f"/api/segments/{pk}/members"))
    assert members["count"] == 1 and members["items"][0]["email"] == "a@acme.com"
    assert members["items"][0]["source"] == "filter"
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post(f"/api/segments/{pk}/rebuild")
    assert response.status_code == 202 and Job.objects.get(pk=body(response)["job_id"]).status == "succeeded"
    with django_capture_on_commit_callbacks(execute=True):
        assert c.post("/api/segments/rebuild").status_code == 202
    response = c.patch(f"/api/segments/{pk}", {"description": "People at Acme"}, content_type="application/json")
    assert body(response)["description"] == "People at Acme" and body(response)["filters"] == TREE
    listing = body(c.get("/api/segments?q=acm"))
    assert listing["count"] == 1
    assert c.delete(f"/api/segments/{pk}").status_code == 204
    assert c.get(f"/api/segments/{pk}").status_code == 404


@pytest.mark.parametrize("filters, field", [
    ({"match": "all", "rules": [{"filter": "contact.points", "operator": "gt", "value": "x"}]},
     "filters.rules.0.value"),
    ({"match": "all", "rules": [{"filter": "nope", "operator": "eq", "value": 1}]}, "filters.rules.0.filter"),
    ({"match": "some", "rules": []}, "filters.match"),
    ({"rules": "none"}, "filters.rules"),
    ({"filter": "contact.email"}, "filters"),
])
def test_bad_filter_trees_are_422_with_the_path_and_change_nothing(api, marketer, filters, field):
    response = api(marketer).post("/api/segments", {"name": "Bad", "filters": filters},
                                  content_type="application/json")
    assert response.status_code == 422, response.content
    assert field in body(response)["errors"], body(response)
    assert not Segment.objects.exists()


def test_static_members_by_id_and_email(api, marketer):
    known = ContactFactory(email="known@x.org")
    c = api(marketer)
    pk = body(c.post("/api/segments", {"name": "List"}, content_type="application/json"))["id"]
    response = c.post(f"/api/segments/{pk}/members", {"contact_ids": [known.pk], "emails": ["new@x.org", "bad"],
                                                      "create": True}, content_type="application/json")
    assert body(response) == {"changed": 2, "refused": ["bad"]}
    assert Membership.objects.filter(segment_id=pk).count() == 2
    response = c.post(f"/api/segments/{pk}/members", {"mode": "exclude", "contact_ids": [known.pk]},
                      content_type="application/json")
    assert body(response)["changed"] == 1
    response = c.post(f"/api/segments/{pk}/members", {"mode": "reset", "contact_ids": [known.pk]},
                      content_type="application/json")
    assert response.status_code == 200
    assert c.post(f"/api/segments/{pk}/members", {"contact_ids": [999999]},
                  content_type="application/json").status_code == 422
    assert c.post(f"/api/segments/{pk}/members", {"mode": "exclude", "create": True},
                  content_type="application/json").status_code == 422
    segments = body(c.get(f"/api/contacts/{Membership.objects.filter(segment_id=pk).first().contact_id}/segments"))
    assert [s["name"] for s in segments] == ["List"]
    assert body(c.get(f"/api/contacts?segment={pk}"))["count"] == 1


def test_filter_catalogue_and_choices(api, reader):
    c = api(reader)
    filters = {f["key"]: f for f in body(c.get("/api/segment-filters"))}
    assert {"contact.email", "company.name", "contact.points", "contact.do_not_contact", "segments.member",
            "activity.kind", "example.synced_from"} <= set(filters)
    assert filters["activity.kind"]["value_type"] == "period"
    assert {"key": "last_days", "label": "in the last N days", "arity": "days"} in filters["contact.created_at"][
        "operators"]
    choices = body(c.get("/api/segment-filters/activity.kind/choices?q=note"))
    assert {"value": "contact.note", "label": "Contacts · Note"} in choices["items"]
    assert c.get("/api/segment-filters/nope/choices").status_code == 404


def test_readers_cannot_change_segments(api, reader):
    assert api(reader).post("/api/segments", {"name": "x"}, content_type="application/json").status_code == 403


def test_deleting_a_segment_used_by_another_is_refused(api, marketer):
    c = api(marketer)
    base = body(c.post("/api/segments", {"name": "Base"}, content_type="application/json"))["id"]
    c.post("/api/segments", {"name": "Derived", "filters": {"match": "all", "rules": [
        {"filter": "segments.member", "operator": "in", "value": [str(base)]}]}}, content_type="application/json")
    response = c.delete(f"/api/segments/{base}")
    assert response.status_code == 400 and "Derived" in body(response)["detail"]

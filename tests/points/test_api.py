"""The points API: rules and triggers CRUD with field-level 422s, firings, the catalogues."""

from __future__ import annotations

import json

import pytest

from liaison.contacts import services as contacts
from liaison.core.models import Job
from liaison.points.models import PointRule, PointTrigger
from tests.factories import ContactFactory
from tests.points.conftest import event, push

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def body(response):
    return json.loads(response.content)


def test_rule_crud_and_its_awards(api, marketer):
    from liaison.points import services

    c = api(marketer)
    response = c.post("/api/points/rules", {"name": "Right wave", "event": "tests.waved", "subjects": ["right"],
                                            "points": -3}, content_type="application/json")
    assert response.status_code == 201, response.content
    rule = body(response)
    assert rule["summary"] == "−3 when waves (hand: Right hand)" and rule["active"] and rule["award_count"] == 0
    pk = rule["id"]
    updated = body(c.patch(f"/api/points/rules/{pk}", {"once_per_contact": True}, content_type="application/json"))
    assert updated["once_per_contact"] and updated["subjects"] == ["right"] and updated["points"] == -3
    ann = ContactFactory()
    services.handle_events([event("tests.waved", [ann], hand="right")])
    assert body(c.get(f"/api/points/rules/{pk}"))["award_count"] == 1
    awards = body(c.get(f"/api/points/rules/{pk}/awards"))
    assert awards["count"] == 1 and awards["items"][0]["email"] == ann.email and awards["items"][0]["points"] == -3
    assert body(c.get("/api/points/rules", {"q": "wave"}))["count"] == 1
    assert c.delete(f"/api/points/rules/{pk}").status_code == 204
    assert c.get(f"/api/points/rules/{pk}").status_code == 404


def test_rule_errors_are_422_by_field(api, marketer):
    c = api(marketer)
    response = c.post("/api/points/rules", {"name": "", "event": "nope", "points": 0},
                      content_type="application/json")
    assert response.status_code == 422
    assert set(body(response)["errors"]) == {"name", "event", "points"}
    assert c.post("/api/points/rules", {"name": "x", "surprise": 1}, content_type="application/json"
                  ).status_code == 422
    assert not PointRule.objects.exists()


def test_trigger_crud_firings_and_evaluation(api, marketer, run_on_commit, crm):
    c = api(marketer)
    ann = ContactFactory(points=100)
    with run_on_commit():
        response = c.post("/api/points/triggers", {"name": "Hot lead", "threshold": 50, "actions": [push()]},
                          content_type="application/json")
    assert response.status_code == 201, response.content
    trigger = body(response)
    assert trigger["summary"] == ["Push to Example CRM (VIP list)"] and trigger["counts"] == {"skipped": 1}
    pk = trigger["id"]
    bob = ContactFactory()
    with run_on_commit():
        contacts.adjust_points([bob.pk], 60)
    firings = body(c.get(f"/api/points/triggers/{pk}/firings"))
    assert firings["count"] == 2
    done = body(c.get(f"/api/points/triggers/{pk}/firings", {"status": "succeeded"}))["items"]
    assert [f["email"] for f in done] == [bob.email] and done[0]["results"][0]["message"] == "Added to VIP list."
    skipped = body(c.get(f"/api/points/triggers/{pk}/firings", {"status": "skipped"}))["items"]
    assert [f["email"] for f in skipped] == [ann.email]
    assert body(c.get(f"/api/points/triggers/{pk}/firings", {"status": "bogus"}))["count"] == 0
    updated = body(c.patch(f"/api/points/triggers/{pk}", {"actions": [push("newsletter")], "active": False},
                           content_type="application/json"))
    assert updated["actions"] == [push("newsletter")] and not updated["active"]
    with run_on_commit():
        response = c.post("/api/points/triggers/evaluate")
    assert response.status_code == 202 and Job.objects.get(pk=body(response)["job_id"]).status == "succeeded"
    with run_on_commit():
        assert c.post(f"/api/points/triggers/{pk}/evaluate").status_code == 202
    assert c.delete(f"/api/points/triggers/{pk}").status_code == 204
    assert not PointTrigger.objects.exists()


def test_trigger_errors_are_422_with_the_action_setting_named(api, marketer):
    c = api(marketer)
    response = c.post("/api/points/triggers", {"name": "T", "threshold": 5, "actions": [
        {"key": "example.push", "config": {}}]}, content_type="application/json")
    assert response.status_code == 422
    assert body(response)["errors"] == {"actions.0.config.crm_list": ["This setting is required."]}


def test_catalogues_of_events_subjects_and_actions(api, reader):
    c = api(reader)
    events = {e["key"]: e for e in body(c.get("/api/points/events"))}
    assert events["tests.waved"]["subject"] == "hand" and "emails.opened" in events
    assert "webforms.submitted" in events
    assert body(c.get("/api/points/events/tests.waved/subjects")) == [
        {"value": "left", "label": "Left hand"}, {"value": "right", "label": "Right hand"}]
    assert c.get("/api/points/events/nope/subjects").status_code == 404
    actions = {a["key"]: a for a in body(c.get("/api/points/trigger-actions"))}
    setting = {s["name"]: s for s in actions["example.push"]["config"]}
    assert setting["crm_list"]["choices"] == [["vip", "VIP list"], ["newsletter", "Newsletter list"]]
    assert setting["crm_list"]["required"]


def test_readers_cannot_change_points(api, reader):
    c = api(reader)
    assert c.get("/api/points/rules").status_code == 200
    assert c.post("/api/points/rules", {"name": "x", "event": "tests.waved", "points": 1},
                  content_type="application/json").status_code == 403

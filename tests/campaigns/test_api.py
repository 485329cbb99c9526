"""The campaigns REST API: CRUD, the step tree, publishing, running, statistics, enrollments."""

import json

import pytest

from liaison.campaigns.models import Campaign, Step
from tests.campaigns.helpers import audience
from tests.testapp import campaign_steps as example

pytestmark = pytest.mark.django_db


def body(response):
    return json.loads(response.content)


def post(client, url, data=None):
    return client.post(url, json.dumps(data or {}), content_type="application/json")


def patch(client, url, data):
    return client.patch(url, json.dumps(data), content_type="application/json")


def test_build_publish_run_and_read_a_campaign(api, marketer, django_capture_on_commit_callbacks):
    c = api(marketer)
    segment, contacts = audience("Ada", "Bob")
    created = post(c, "/api/campaigns", {"name": "Onboarding", "reentry": "rejoin",
                                         "audiences": [{"key": "segments.segment", "values": [str(segment.pk)]}]})
    assert created.status_code == 201, created.content
    campaign = body(created)
    assert campaign["status"] == "draft" and campaign["sources"] == [f"Segments: {segment.name}"]
    base = f"/api/campaigns/{campaign['id']}"

    refused = post(c, f"{base}/publish")
    assert refused.status_code == 422 and body(refused)["errors"] == {"steps": ["Add at least one step."]}

    condition = post(c, f"{base}/steps", {"key": "example.named", "config": {"names": ["Ada"]}})
    assert condition.status_code == 201, condition.content
    condition = body(condition)
    bad = post(c, f"{base}/steps", {"key": "example.tag", "parent": condition["id"], "branch": "yes", "config": {}})
    assert bad.status_code == 422 and body(bad)["errors"] == {"config.tag": ["This setting is required."]}
    yes = body(post(c, f"{base}/steps", {"key": "example.tag", "parent": condition["id"], "branch": "yes",
                                        "config": {"tag": "ada"}}))
    no = body(post(c, f"{base}/steps", {"key": "example.tag", "parent": condition["id"], "branch": "no",
                                       "config": {"tag": "other"}, "delay": "relative", "delay_amount": 0}))
    assert no["errors"] == {"delay_amount": ["How long to wait (1 or more)."]}
    no = body(post(c, f"{base}/steps", {"key": "example.tag", "parent": condition["id"], "branch": "no",
                                       "config": {"tag": "other"}}))
    changed = patch(c, f"{base}/steps/{yes['id']}", {"config": {"tag": "first-name-ada"}, "name": "Tag Ada"})
    assert changed.status_code == 200 and body(changed)["summary"] == "Tag Ada"

    tree = body(c.get(f"{base}/steps"))
    assert [(n["branch"], n["id"]) for n in tree[0]["children"]] == [("yes", yes["id"]), ("no", no["id"])]

    with django_capture_on_commit_callbacks(execute=True):
        published = post(c, f"{base}/publish")
    assert published.status_code == 200 and body(published)["status"] == "published"
    # publishing queued a run (the test task backend runs it at once)
    assert sorted((call["email"], call["tag"]) for call in example.CALLS) == sorted(
        [(contacts[0].email, "first-name-ada"), (contacts[1].email, "other")])

    stats = body(c.get(f"{base}/stats"))
    assert stats["enrollments"]["completed"] == 2
    by_step = {s["step_id"]: s for s in stats["steps"]}
    assert (by_step[condition["id"]]["yes"], by_step[condition["id"]]["no"]) == (1, 1)
    assert by_step[yes["id"]]["done"] == 1

    listed = body(c.get(f"{base}/enrollments?contact={contacts[0].pk}"))
    assert listed["count"] == 1
    log = listed["items"][0]["runs"]
    assert [(r["step_key"], r["status"], r["branch"]) for r in log] == [("example.named", "done", "yes"),
                                                                        ("example.tag", "done", "")]

    ran = post(c, f"{base}/run")
    assert ran.status_code == 202 and body(ran)["label"] == "Run campaign “Onboarding”"
    assert body(post(c, f"{base}/pause"))["status"] == "paused"
    assert post(c, f"{base}/pause").status_code == 400
    assert post(c, f"{base}/run").status_code == 400
    assert body(post(c, f"{base}/resume"))["status"] == "published"


def test_move_and_delete_steps(api, marketer):
    c = api(marketer)
    campaign = body(post(c, "/api/campaigns", {"name": "Moves"}))
    base = f"/api/campaigns/{campaign['id']}"
    first = body(post(c, f"{base}/steps", {"key": "example.tag", "config": {"tag": "a"}}))
    second = body(post(c, f"{base}/steps", {"key": "example.tag", "config": {"tag": "b"}}))
    moved = post(c, f"{base}/steps/{second['id']}/move", {"parent": first["id"]})
    assert moved.status_code == 200 and body(moved)["parent"] == first["id"]
    assert post(c, f"{base}/steps/{first['id']}/move", {"parent": second["id"]}).status_code == 422
    assert post(c, f"{base}/steps/{first['id']}/move", {"parent": first["id"], "branch": "yes"}).status_code == 422
    assert c.delete(f"{base}/steps/{first['id']}").status_code == 204
    assert not Step.objects.exists()
    assert c.get(f"{base}/steps/{first['id']}").status_code == 404
    other = body(post(c, "/api/campaigns", {"name": "Other"}))
    third = body(post(c, f"{base}/steps", {"key": "example.tag", "config": {"tag": "c"}}))
    assert c.get(f"/api/campaigns/{other['id']}/steps/{third['id']}").status_code == 404


def test_campaign_crud_and_catalogue(api, marketer):
    c = api(marketer)
    assert post(c, "/api/campaigns", {"name": ""}).status_code == 422
    assert post(c, "/api/campaigns", {"name": "X", "colour": "red"}).status_code == 422
    created = body(post(c, "/api/campaigns", {"name": "Clicks",
                                              "starts": [{"key": "example.clicked", "config": {"thing": "x"}}]}))
    assert created["sources"] == ["Clicks x"]
    renamed = patch(c, f"/api/campaigns/{created['id']}", {"name": "Clickers"})
    assert body(renamed)["name"] == "Clickers"
    assert body(c.get("/api/campaigns?status=draft"))["count"] == 1
    types = {t["key"]: t for t in body(c.get("/api/campaigns/step-types"))}
    assert types["example.clicked"]["can_start"] and types["example.named"]["kind"] == "condition"
    assert types["example.tag"]["config"][0]["name"] == "tag"
    assert c.delete(f"/api/campaigns/{created['id']}").status_code == 204
    assert not Campaign.objects.exists()


def test_reading_needs_a_token(client):
    assert client.get("/api/campaigns").status_code == 401


def test_readers_read_but_do_not_change(api, reader):
    c = api(reader)
    assert c.get("/api/campaigns").status_code == 200
    assert post(c, "/api/campaigns", {"name": "Nope"}).status_code == 403
    assert post(c, "/api/campaigns/run").status_code == 403
    assert not Campaign.objects.exists()

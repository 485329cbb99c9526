"""GoTo segment filters: every filter's SQL against facts stored by a real sync from the sandbox."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from liaison.contacts.models import Contact
from liaison.core.contributions import SegmentFilter
from liaison.core.registry import registry
from liaison.integrations import services as framework
from liaison.integrations.goto.models import AssistSession, Attendance, Event, Registration
from liaison.segments import filters as engine
from liaison.segments import services as segments
from liaison.segments.models import Segment
from tests.integrations.goto import scenario
from tests.integrations.goto.conftest import connect, create_account, make_sandbox, sync

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

MARKET = {"organizers": 2, "webinars": 3, "registrants_per_webinar": 6, "trainings": 1, "registrants_per_training": 3,
          "meetings": 2, "attendees_per_meeting": 2, "assist_sessions": 3}


@pytest.fixture
def world(db, deliveries, admin_user):
    import httpx

    from liaison.core.http import transports
    from tests.integrations.goto.conftest import API

    sb = make_sandbox(deliveries, **MARKET)
    with transports.mounted(API, httpx.WSGITransport(app=sb)):
        yield scenario.build(sb, admin_user)


def flt(key: str) -> SegmentFilter:
    return registry.get(SegmentFilter, key)


def run(world, key: str, operator: str = "ever", **value) -> set[str]:
    """Our named people matched by one condition, evaluated by the database."""
    f = flt(key)
    cleaned = f.clean(operator, value)
    qs = Contact.objects.filter(f.to_q(operator, cleaned))
    assert "EXISTS" in str(qs.query).upper()  # one correlated subquery, never Python-side filtering
    return world.names(qs.values_list("pk", flat=True))


def everyone_but(*names: str) -> set[str]:
    return set(scenario.PEOPLE) - set(names)


def test_registered(world):
    k = world.keys
    assert run(world, "goto.webinar.registered", values=["any"]) == {"ann", "bob", "cat", "dan", "eve", "kim"}
    assert run(world, "goto.webinar.registered", values=[]) == {"ann", "bob", "cat", "dan", "eve", "kim"}
    assert run(world, "goto.webinar.registered", values=[k["A"]]) == {"ann", "bob", "cat"}
    assert run(world, "goto.webinar.registered", values=[k["A"], k["D"]]) == {"ann", "bob", "cat", "kim"}
    assert run(world, "goto.webinar.registered", "never", values=[k["A"]]) == everyone_but("ann", "bob", "cat")
    assert "fay" not in run(world, "goto.webinar.registered", values=[k["C"]])  # cancelled
    assert run(world, "goto.training.registered", values=["any"]) == {"gus", "hank"}


def test_attended_and_did_not_attend_the_same_event(world):
    k = world.keys
    assert run(world, "goto.webinar.attended", values=["any"]) == {"ann", "bob", "dan", "kim"}
    assert run(world, "goto.webinar.attended", values=[k["B"]]) == {"dan"}
    assert run(world, "goto.webinar.attended", "never", values=["any"]) == everyone_but("ann", "bob", "dan", "kim")
    # Registered for A and B, attended A only: a no-show of B, not of A (Mautic mixed the lists).
    assert run(world, "goto.webinar.not_attended", values=[k["A"]]) == {"cat"}
    assert run(world, "goto.webinar.not_attended", values=[k["B"]]) == {"ann"}
    assert run(world, "goto.webinar.not_attended", values=["any"]) == {"ann", "cat"}  # C is not over yet
    assert run(world, "goto.webinar.not_attended", "never", values=["any"]) == everyone_but("ann", "cat")
    assert run(world, "goto.training.attended", values=["any"]) == {"gus"}
    assert run(world, "goto.training.not_attended", values=["any"]) == {"hank"}


def test_meetings_and_support_sessions_never_attended(world):
    assert run(world, "goto.meeting.attended", values=[world.keys["M"]]) == {"hal"}
    assert run(world, "goto.meeting.not_attended", values=[world.keys["M"]]) == everyone_but("hal")
    assert run(world, "goto.assist.attended", values=["any"]) == {"ivy"}  # jon's session was abandoned
    assert run(world, "goto.assist.attended", values=[world.keys["jon"]]) == set()
    assert run(world, "goto.assist.not_attended", values=["any"]) == everyone_but("ivy")


def test_attended_at_least_n_minutes_sums_an_event_s_sessions(world):
    k = world.keys
    assert run(world, "goto.webinar.attended_minutes", values=["any"], at_least=30) == {"ann", "dan", "kim"}
    assert run(world, "goto.webinar.attended_minutes", values=[k["B"]], at_least=40) == {"dan"}  # 20 + 20
    assert run(world, "goto.webinar.attended_minutes", values=[k["B"]], at_least=41) == set()
    assert run(world, "goto.webinar.attended_minutes", values=["any"], at_least=45) == {"kim"}
    assert run(world, "goto.webinar.attended_minutes", "never", values=["any"], at_least=30) == \
        everyone_but("ann", "dan", "kim")
    assert run(world, "goto.training.attended_minutes", values=["any"], at_least=45) == {"gus"}
    assert run(world, "goto.meeting.attended_minutes", values=["any"], at_least=30) == {"hal"}
    assert run(world, "goto.meeting.attended_minutes", values=["any"], at_least=31) == set()
    assert run(world, "goto.assist.attended_minutes", values=["any"], at_least=20) == {"ivy"}
    with pytest.raises(ValueError, match="number of minutes"):
        flt("goto.webinar.attended_minutes").clean("ever", {"values": ["any"]})


def test_event_date_ranges_are_on_the_event_s_start(world):
    today = timezone.localdate()
    assert run(world, "goto.webinar.registered", "in_last_days", values=["any"], days=2) == {"ann", "dan", "kim"}
    assert run(world, "goto.webinar.registered", "not_in_last_days", values=["any"], days=2) == \
        everyone_but("ann", "dan", "kim")
    a_day = Event.objects.get(provider_key=world.keys["A"]).starts_at
    a_day = timezone.localtime(a_day).date().isoformat()
    assert run(world, "goto.webinar.registered", "in_between", values=["any"], **{"from": a_day, "to": a_day}) \
        >= {"ann", "bob", "cat"}
    future = (today + timedelta(days=4)).isoformat(), (today + timedelta(days=6)).isoformat()
    assert run(world, "goto.webinar.registered", "in_between", values=["any"],
               **{"from": future[0], "to": future[1]}) == {"eve"}
    assert run(world, "goto.meeting.attended", "in_last_days", values=["any"], days=2) == {"hal"}
    assert run(world, "goto.assist.attended", "in_last_days", values=["any"], days=1) == {"ivy"}


def test_any_matches_the_database_facts_including_seeded_ones(world):
    """The SQL against an independent reading of the stored facts (every seeded person too)."""
    def ids(key, operator="ever", **value):
        f = flt(key)
        return set(Contact.objects.filter(f.to_q(operator, f.clean(operator, value))).values_list("pk", flat=True))

    active = Registration.objects.filter(status__in=Registration.ACTIVE)
    assert ids("goto.webinar.registered", values=["any"]) == set(
        active.filter(event__product="webinar").values_list("contact_id", flat=True))
    assert ids("goto.webinar.attended", values=["any"]) == set(
        Attendance.objects.filter(event__product="webinar").values_list("contact_id", flat=True))
    attended = set(Attendance.objects.values_list("event_id", "email_key"))
    now = timezone.now()
    no_shows = {r.contact_id for r in active.filter(event__product="webinar").select_related("event")
                if r.event.ends_at < now and r.event.status != "cancelled" and (r.event_id, r.email_key) not in attended}
    assert ids("goto.webinar.not_attended", values=["any"]) == no_shows
    joined = {contact_id for contact_id, status, joined_at in AssistSession.objects.exclude(contact=None)
              .values_list("contact_id", "status", "customer_joined_at") if joined_at or status in ("active", "complete")}
    assert ids("goto.assist.attended", values=["any"]) == joined


def test_choices_one_per_event_searchable_and_paged_across_accounts(world, admin_user):
    f = flt("goto.webinar.registered")
    page = f.choices("", 0, 50)
    keys = [v for v, _ in page.items]
    assert keys[0] == "any" and page.items[0][1] == "Any webinar"
    assert len(keys) == len(set(keys)) == Event.objects.filter(product="webinar").values("provider_key").distinct()\
        .count() + 1
    assert world.keys["D"] in keys  # the second account's webinar
    label = dict(page.items)[world.keys["A"]]
    assert label.startswith("Alpha — ")
    assert [v for v, _ in f.choices("alph", 0, 50).items] == [world.keys["A"]]
    assert f.choices(world.keys["B"], 0, 50).items == [(world.keys["B"], dict(page.items)[world.keys["B"]])]
    first, second = f.choices("", 0, 2), f.choices("", 2, 2)
    assert first.more and {v for v, _ in first.items[1:]}.isdisjoint(v for v, _ in second.items)
    # A twin account reading the same organizer's events: still one entry per event, same members.
    before = run(world, "goto.webinar.registered", values=[world.keys["A"]])
    twin = create_account(admin_user, "Twin")
    connect(twin, world.sandbox)
    sync(twin, product="webinar")
    assert Event.objects.filter(provider_key=world.keys["A"]).count() == 2
    assert [v for v, _ in f.choices("alpha", 0, 50).items] == [world.keys["A"]]
    assert run(world, "goto.webinar.registered", values=[world.keys["A"]]) == before
    assert f.choice_labels(["any", world.keys["A"], "nope"]).keys() == {"any", world.keys["A"]}
    with pytest.raises(ValueError, match="Not among the choices: 999"):
        f.clean("ever", {"values": ["999"]})
    assistant = flt("goto.assist.attended")
    assert world.keys["ivy"] in dict(assistant.choices("", 0, 50).items)


def test_unavailable_when_no_account_has_the_product(world):
    f = flt("goto.training.attended")
    assert f.unavailable_reason() is None
    for account in (world.account, world.account2):
        framework.update_integration(account, features={**account.features, "training": False})
    assert "GoToTraining switched on" in f.unavailable_reason()
    assert flt("goto.webinar.attended").unavailable_reason() is None


def test_a_segment_rebuilds_and_describes_goto_conditions(world):
    k = world.keys
    segment = segments.save_segment({"name": "No-shows of Alpha, or long Beta", "filters": {"match": "any", "rules": [
        {"filter": "goto.webinar.not_attended", "operator": "ever", "value": {"values": [k["A"]]}},
        {"filter": "goto.webinar.attended_minutes", "operator": "ever",
         "value": {"values": [k["B"]], "at_least": "35"}},
    ]}})
    segments.rebuild_segment(segment)
    members = set(segment.memberships.values_list("contact_id", flat=True))
    assert world.names(members) == {"cat", "dan"}
    words = engine.describe(segment.filters, engine.catalogue())
    assert "Did not attend a webinar including Alpha — " in words
    assert "Time spent in a webinar including Beta — " in words
    assert "at least 35 minutes" in words


def test_the_builder_and_the_api_offer_goto_filters(world, marketer_client, api, marketer,
                                                    django_capture_on_commit_callbacks):
    k = world.keys
    drawn = marketer_client.post("/segments/builder/", {
        "f-match": "all", "f-n": "1", "f-0-kind": "condition", "f-0-filter": "goto.webinar.attended_minutes",
        "f-0-operator": "in_last_days", "f-0-value": k["A"], "f-0-days": "10", "f-0-at_least": "30"}).content.decode()
    assert '<optgroup label="GoToWebinar">' in drawn and ">Time spent in a webinar<" in drawn
    assert ">including, held in the last N days<" in drawn and "Any webinar" in drawn
    assert 'name="f-0-at_least" value="30"' in drawn and "minutes" in drawn
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post("/segments/new/", {
            "name": "Long stays", "description": "", "f-match": "all", "f-n": "1", "f-0-kind": "condition",
            "f-0-filter": "goto.webinar.attended_minutes", "f-0-operator": "ever", "f-0-value": "any",
            "f-0-at_least": "30"})
    assert response.status_code == 302, response.content.decode()[:2000]
    segment = Segment.objects.get(name="Long stays")
    assert segment.filters["rules"][0]["value"] == {"values": ["any"], "at_least": 30}
    assert world.names(segment.memberships.values_list("contact_id", flat=True)) == {"ann", "dan", "kim"}

    c = api(marketer)
    listed = {f["key"]: f for f in json.loads(c.get("/api/segment-filters").content)}
    assert {f"goto.{p}.attended" for p in ("webinar", "training", "meeting", "assist")} <= set(listed)
    assert [o["label"] for o in listed["goto.webinar.registered"]["operators"]][:2] == ["including", "excluding"]
    choices = json.loads(c.get("/api/segment-filters/goto.webinar.registered/choices?q=beta").content)
    assert [i["value"] for i in choices["items"]] == [k["B"]]
    bad = c.post("/api/segments", {"name": "Bad", "filters": {"match": "all", "rules": [
        {"filter": "goto.webinar.attended_minutes", "operator": "ever", "value": {"values": ["any"]}}]}},
        content_type="application/json")
    assert bad.status_code == 422
    assert json.loads(bad.content)["errors"]["filters.rules.0.value"] == ["Enter a whole number of minutes."]

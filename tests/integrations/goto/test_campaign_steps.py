"""GoTo campaign steps: conditions (the segment filters' SQL), decisions, actions against the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pydantic
import pytest
from django.db.models import F

from liaison.contacts.models import Contact
from liaison.core.contributions import CampaignStep, ContactEvent, StepTarget
from liaison.core.registry import registry
from liaison.emails.models import Send
from liaison.integrations.goto.models import Event, Registration
from tests.factories import ContactFactory, EmailFactory
from tests.integrations.goto import scenario
from tests.integrations.goto.conftest import make_sandbox, slot, sync

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

MARKET = {"organizers": 2, "webinars": 3, "registrants_per_webinar": 6, "trainings": 1, "registrants_per_training": 3,
          "meetings": 2, "attendees_per_meeting": 2, "assist_sessions": 3}


def step(key: str) -> CampaignStep:
    return registry.get(CampaignStep, key)


# -- conditions ----------------------------------------------------------------------------------------------

@pytest.fixture
def world(db, deliveries, admin_user):
    import httpx

    from liaison.core.http import transports
    from tests.integrations.goto.conftest import API

    sb = make_sandbox(deliveries, **MARKET)
    with transports.mounted(API, httpx.WSGITransport(app=sb)):
        yield scenario.build(sb, admin_user)


def yes(world, key: str, **config) -> set[str]:
    definition = step(key)
    q = definition.to_q(definition.parse(config))
    qs = Contact.objects.filter(q)
    assert "EXISTS" in str(qs.query).upper()  # one query for the batch, nothing decided in Python
    return world.names(qs.values_list("pk", flat=True))


def everyone_but(*names: str) -> set[str]:
    return set(scenario.PEOPLE) - set(names)


def test_conditions_per_product_are_the_segment_filters(world):
    k = world.keys
    assert yes(world, "goto.webinar.registered") == {"ann", "bob", "cat", "dan", "eve", "kim"}
    assert yes(world, "goto.webinar.registered", events=[k["A"], k["D"]]) == {"ann", "bob", "cat", "kim"}
    assert "fay" not in yes(world, "goto.webinar.registered", events=[k["C"]])  # cancelled
    assert yes(world, "goto.training.registered") == {"gus", "hank"}
    assert yes(world, "goto.webinar.attended") == {"ann", "bob", "dan", "kim"}
    assert yes(world, "goto.webinar.attended", events=[k["B"]]) == {"dan"}
    assert yes(world, "goto.training.attended") == {"gus"}
    assert yes(world, "goto.meeting.attended", events=[k["M"]]) == {"hal"}
    assert yes(world, "goto.assist.attended") == {"ivy"}
    # Did not attend: registered for the same event that is over, and absent.
    assert yes(world, "goto.webinar.not_attended", events=[k["A"]]) == {"cat"}
    assert yes(world, "goto.webinar.not_attended") == {"ann", "cat"}
    assert yes(world, "goto.training.not_attended") == {"hank"}
    assert yes(world, "goto.meeting.not_attended", events=[k["M"]]) == everyone_but("hal")
    assert yes(world, "goto.assist.not_attended") == everyone_but("ivy")
    # At least N minutes, summed over an event's sessions.
    assert yes(world, "goto.webinar.attended_minutes", minutes=30) == {"ann", "dan", "kim"}
    assert yes(world, "goto.webinar.attended_minutes", events=[k["B"]], minutes=40) == {"dan"}
    assert yes(world, "goto.webinar.attended_minutes", events=[k["B"]], minutes=41) == set()
    assert yes(world, "goto.meeting.attended_minutes", minutes=30) == {"hal"}
    assert yes(world, "goto.assist.attended_minutes", minutes=20) == {"ivy"}


def test_condition_settings_choices_and_checks(world):
    k = world.keys
    attended = step("goto.webinar.attended")
    offered = dict(attended.config_choices("events"))
    assert {k["A"], k["B"], k["C"], k["D"]} <= set(offered) and offered[k["A"]].startswith("Alpha")
    assert k["ivy"] in dict(step("goto.assist.attended").config_choices("events"))
    assert attended.check(attended.parse({"events": ["999"]})) == [
        "Attended a webinar: there is no webinar 999 (is GoTo synchronised?)."]
    assert attended.check(attended.parse({"events": [k["A"]]})) == []
    assert attended.summary(attended.parse({})) == "Attended a webinar: any webinar"
    minutes = step("goto.webinar.attended_minutes")
    with pytest.raises(ValueError):
        minutes.parse({"events": []})  # the number of minutes is required
    assert minutes.summary(minutes.parse({"minutes": 30, "events": [k["A"]]})).startswith(
        "Time spent in a webinar for at least 30 minutes: “Alpha")
    assert attended.unavailable_reason() is None


# -- decisions ----------------------------------------------------------------------------------------------

def event(key: str, goto_key: str, product: str = "webinar") -> ContactEvent:
    return ContactEvent(key=key, contact_ids=(1,), occurred_at=datetime.now(UTC), ref=f"goto:{product}:x",
                        data={"product": product, "goto_event_key": goto_key, "title": "T"})


def test_decisions_wait_for_the_announced_goto_facts(db):
    registers = step("goto.webinar.registers")
    assert registers.step_kind == "decision" and registers.events == ("goto.webinar.registered",)
    assert registers.can_start
    any_webinar, chosen = registers.parse({}), registers.parse({"events": ["812"]})
    assert registers.matches(any_webinar, event("goto.webinar.registered", "812"))
    assert registers.matches(chosen, event("goto.webinar.registered", "812"))
    assert not registers.matches(chosen, event("goto.webinar.registered", "999"))
    assert not registers.matches(any_webinar, event("goto.webinar.attended", "812"))
    assert registers.context_from(chosen, event("goto.webinar.registered", "812")) == {
        "goto": {"product": "webinar", "event": "812"}}
    attends = step("goto.training.attends")
    assert attends.events == ("goto.training.attended",)
    assert attends.matches(attends.parse({}), event("goto.training.attended", "77", "training"))
    assert attends.context_from(attends.parse({}), event("goto.training.attended", "77", "training")) == {
        "goto": {"product": "training", "event": "77"}}
    assert step("goto.webinar.attends").events == ("goto.webinar.attended",)


def test_a_registration_announces_what_the_decision_waits_for(sandbox, events):
    registers = step("goto.webinar.registers")
    config = registers.parse({"events": [events["plain"]]})
    contact = ContactFactory(email="ola@people.test", first_name="Ola", last_name="Lo")
    [result] = step("goto.webinar.register").run([target(contact)], step("goto.webinar.register").parse(
        {"events": [events["plain"]]}))
    assert result.ok, result.message
    announced = [e for e in announced_events() if e.key == "goto.webinar.registered" and contact.pk in e.contact_ids]
    assert len(announced) == 1 and registers.matches(config, announced[0])


def test_leaves_a_support_session_rated_at_most_n(db):
    leaves = step("goto.assist.leaves")
    assert leaves.step_kind == "decision" and leaves.events == ("goto.assist.left",) and leaves.can_start

    def left(rating):
        return ContactEvent(key="goto.assist.left", contact_ids=(1,), occurred_at=datetime.now(UTC),
                            ref="goto:1:assist:s1:left", data={"product": "assist", "goto_event_key": "s1",
                                                                "rating": rating, "resolution": "resolved"})
    at_most_two = leaves.parse({"max_rating": 2})
    assert leaves.matches(at_most_two, left(1)) and leaves.matches(at_most_two, left(2))
    assert not leaves.matches(at_most_two, left(3)) and not leaves.matches(at_most_two, left(None))
    assert leaves.matches(leaves.parse({}), left(None)) and leaves.matches(leaves.parse({}), left(5))
    assert not leaves.matches(leaves.parse({}), event("goto.assist.attended", "s1", "assist"))
    assert leaves.context_from(at_most_two, left(1)) == {"goto": {"product": "assist", "event": "s1"}}
    assert leaves.summary(at_most_two) == "Leaves a support session rated at most 2 of 5"
    with pytest.raises(pydantic.ValidationError):
        leaves.parse({"max_rating": 6})


def test_a_campaign_waits_for_a_badly_rated_support_session(sandbox, account):
    from liaison.core import events as core_events
    from liaison.integrations.goto import support
    from tests.campaigns.helpers import audience, campaign, run, runs, statuses

    segment, (rita, hank, nora) = audience("Rita", "Hank", "Nora")
    found = campaign(segment, [("goto.assist.leaves", {"max_rating": 2}, {}, {
        "yes": [("contacts.points", {"points": 5, "reason": "Unhappy customer"})]})])
    run(found)
    assert statuses(found, "goto.assist.leaves") == {"waiting": 3}
    # They have waited a while (GoTo's times are whole seconds: a session ending in the same second
    # as the wait began would look earlier than the wait).
    runs(found).update(started_at=F("started_at") - timedelta(minutes=5))
    sessions = {c.first_name: support.start_session(account, c).session_id for c in (rita, hank, nora)}
    for name, rating in (("Rita", 1), ("Hank", 5), ("Nora", None)):
        sandbox.start_assist_session(sessions[name])
        sandbox.end_assist_session(sessions[name], resolution="unresolved")
        if rating:
            sandbox.rate_assist_session(sessions[name], rating, "Feedback")
    assert sync(account, product="assist").status == "succeeded"
    ours = {rita.pk, hank.pk, nora.pk}  # (the sandbox's own seeded sessions have their customers)
    left = [e for e in announced_events() if e.key == "goto.assist.left" and ours & set(e.contact_ids)]
    assert sorted((e.contact_ids, e.data["rating"]) for e in left) == [
        ((rita.pk,), 1), ((hank.pk,), 5), ((nora.pk,), None)]
    core_events.dispatch()
    run(found)
    assert runs(found, step__key="goto.assist.leaves", contact=rita).get().branch == "yes"
    assert Contact.objects.get(pk=rita.pk).points == 5
    assert statuses(found, "goto.assist.leaves") == {"done": 1, "waiting": 2}
    # Nora rates the session a day later: the rating is announced then, and counts.
    sandbox.rate_assist_session(sessions["Nora"], 2, "Slow")
    assert sync(account, product="assist").status == "succeeded"
    core_events.dispatch()
    run(found)
    assert runs(found, step__key="goto.assist.leaves", contact=nora).get().branch == "yes"
    assert Contact.objects.get(pk=nora.pk).points == 5 and Contact.objects.get(pk=hank.pk).points == 0
    # A sync that learns nothing new announces nothing.
    left = [e for e in announced_events() if e.key == "goto.assist.left"]
    assert [e.data["rating"] for e in left if e.ref.endswith(":rated")] == [2]
    count = len(left)
    assert sync(account, product="assist", full=True).status == "succeeded"
    assert len([e for e in announced_events() if e.key == "goto.assist.left"]) == count


def announced_events() -> list[ContactEvent]:
    """What the outbox holds, as the consumers (the campaigns' decisions) are offered it."""
    from liaison.core import events as core_events
    from liaison.core.models import EventRecord

    return [core_events.as_event(r) for r in EventRecord.objects.order_by("pk")]


# -- actions ------------------------------------------------------------------------------------------------

@pytest.fixture
def events(account, sandbox):
    launch = sandbox.add_webinar("Launch", [slot(sandbox, days=4)],
                                 fields=[{"field": "organization", "required": True}])[0]
    plain = sandbox.add_webinar("Plain talk", [slot(sandbox, days=6)])[0]
    course = sandbox.add_training("Course", [slot(sandbox, days=5, hours=2)])
    start, end = slot(sandbox, days=2)
    board = sandbox.add_meeting("Board", start, end)
    assert sync(account).status == "succeeded"
    return {"launch": str(launch.webinar_key), "plain": str(plain.webinar_key), "course": str(course.training_key),
            "board": str(board.meeting_id), "remote_plain": plain}


def target(contact, n: int = 1) -> StepTarget:
    return StepTarget(contact=contact, dedupe_key=f"campaign:1:step:2:enrollment:{contact.pk}:{n}",
                      campaign_id=1, step_id=2)


def test_register_to_webinar_and_training(sandbox, events):
    register = step("goto.webinar.register")
    assert register.idempotent and register.step_kind == "action"
    ann = ContactFactory(email="ann@people.test", first_name="Ann", last_name="Lee")
    bob = ContactFactory(email="bob@people.test", first_name="Bob", last_name="Ray")
    results = register.run([target(ann), target(bob)], register.parse({"events": [events["plain"]]}))
    assert [r.ok for r in results] == [True, True]
    assert results[0].message == "Registered ann@people.test for “Plain talk”."
    assert results[0].data["context"] == {"goto": {"product": "webinar", "event": events["plain"]}}
    assert {"ann@people.test", "bob@people.test"} <= set(events["remote_plain"].by_email)
    registration = Registration.objects.get(event__provider_key=events["plain"], email_key="ann@people.test")
    assert registration.source == Registration.Source.CAMPAIGN and registration.join_url
    # Run again (a re-run after a crash): already registered counts as registered, nothing new on GoTo.
    before = len(events["remote_plain"].registrants)
    [again] = register.run([target(ann)], register.parse({"events": [events["plain"]]}))
    assert again.ok and "already registered" in again.message
    assert len(events["remote_plain"].registrants) == before
    training = step("goto.training.register")
    [result] = training.run([target(ann)], training.parse({"events": [events["course"]]}))
    assert result.ok and result.data["context"] == {"goto": {"product": "training", "event": events["course"]}}
    assert Registration.objects.get(event__provider_key=events["course"], email_key="ann@people.test").join_url
    # Run by a points trigger, the registration says so.
    cal = ContactFactory(email="cal@people.test", first_name="Cal", last_name="Oz")
    by_points = StepTarget(contact=cal, dedupe_key=f"points:trigger:4:contact:{cal.pk}", source="points")
    assert register.run([by_points], register.parse({"events": [events["plain"]]}))[0].ok
    assert Registration.objects.get(event__provider_key=events["plain"], email_key="cal@people.test").source == "points"


def test_a_duplicate_registrant_on_goto_counts_as_registered(sandbox, events):
    sandbox.add_registrant(int(events["plain"]), "eve@people.test", "Eve", "Em")  # registered on GoTo's page
    eve = ContactFactory(email="eve@people.test", first_name="Eve", last_name="Em")
    register = step("goto.webinar.register")
    [result] = register.run([target(eve)], register.parse({"events": [events["plain"]]}))
    assert result.ok
    assert result.message == "eve@people.test was already registered for “Plain talk”; the existing registration is kept."


def test_goto_s_refusal_fails_the_contact_in_its_words_and_transient_failures_retry(sandbox, events):
    register = step("goto.webinar.register")
    cy = ContactFactory(email="cy@people.test", first_name="Cy", last_name="Dee")
    sandbox.scripted.fail(400, {"errorCode": "InvalidRequest", "description": "Registration is closed for this "
                                "webinar by the organizer.", "incident": 8123},
                          when=lambda method, path: method == "POST" and path.endswith("/registrants"))
    [refused] = register.run([target(cy)], register.parse({"events": [events["plain"]]}))
    assert not refused.ok and not refused.retry
    assert "Registration is closed for this webinar by the organizer." in refused.message
    assert "context" not in refused.data
    assert not Registration.objects.filter(email_key="cy@people.test").exists()
    sandbox.scripted.fail(503, {"errorCode": "ServiceUnavailable", "description": "Down", "incident": 1}, times=50,
                          when=lambda method, path: method == "POST" and path.endswith("/registrants"))
    [transient] = register.run([target(cy)], register.parse({"events": [events["plain"]]}))
    assert not transient.ok and transient.retry and "Plain talk" in transient.message
    sandbox.scripted.clear()
    nameless = ContactFactory(email="nn@people.test", first_name="", last_name="")
    [no_name] = register.run([target(nameless)], register.parse({"events": [events["plain"]]}))
    assert not no_name.ok and "needs a first name" in no_name.message


def test_register_settings(events):
    register = step("goto.webinar.register")
    with pytest.raises(ValueError):
        register.parse({"events": []})
    offered = dict(register.config_choices("events"))
    assert {events["launch"], events["plain"]} <= set(offered)
    past = set(Event.objects.filter(product="webinar", status="past").values_list("provider_key", flat=True))
    assert past and not past & set(offered)  # people can only be registered to upcoming webinars
    assert register.check(register.parse({"events": ["4242"]})) == [
        "Register to webinar: there is no webinar 4242 (is GoTo synchronised?)."]
    assert register.summary(register.parse({"events": [events["plain"]]})).startswith("Register to webinar: “Plain")
    assert register.unavailable_reason() is None


def test_send_the_meeting_start_link(sandbox, events, smtp_server, django_capture_on_commit_callbacks):
    email = EmailFactory(name="Your start link", html="<p>{meeting_button}</p>")
    start = step("goto.meeting.start_link")
    config = start.parse({"event": events["board"], "email_id": email.pk})
    assert start.check(config) == []
    host = ContactFactory(email="host@people.test", first_name="Ho", last_name="St")
    with django_capture_on_commit_callbacks(execute=True):
        [result] = start.run([target(host)], config)
    assert result.ok, result.message
    assert result.message == "Start link of “Board” e-mailed to host@people.test with “Your start link”."
    assert result.data["context"] == {"goto": {"product": "meeting", "event": events["board"]}}
    send = Send.objects.get(email=email)
    message, = smtp_server.to("host@people.test")
    assert f'href="{send.context["goto"]["start_url"]}"' in message.html
    [again] = start.run([target(host)], config)  # re-run: the same send, nothing twice
    assert again.ok and Send.objects.filter(email=email).count() == 1
    without = EmailFactory(name="No button", html="<p>Hi</p>")
    assert start.check(start.parse({"event": events["board"], "email_id": without.pk})) == [
        ("Send GoToMeeting start link: “No button” does not contain {meeting_button}, so the link would not be in "
        "the message.")]


def test_the_catalogue_offers_the_goto_steps(admin_client, events):
    keys = {s.key for s in registry.all(CampaignStep)}
    assert {"goto.webinar.registered", "goto.assist.not_attended", "goto.webinar.attended_minutes",
            "goto.webinar.registers", "goto.webinar.attends", "goto.training.attends", "goto.webinar.register",
            "goto.training.register", "goto.meeting.start_link", "goto.training.start_link"} <= keys


# -- in a running campaign --------------------------------------------------------------------------------------

def test_a_campaign_branches_on_registration_and_registers_through_goto(sandbox, events):
    from liaison.campaigns.models import Enrollment
    from liaison.integrations.goto import services
    from tests.campaigns.helpers import audience, campaign, run, runs

    segment, (ann, bob) = audience("Ann", "Bob")
    services.register_contact(Event.objects.get(provider_key=events["plain"]), bob)
    found = campaign(segment, [("goto.webinar.registered", {"events": [events["plain"]]}, {}, {
        "no": [("goto.webinar.register", {"events": [events["plain"]]})],
        "yes": [("goto.training.register", {"events": [events["course"]]})]})])
    run(found)
    assert runs(found, step__key="goto.webinar.registered", contact=ann).get().branch == "no"
    assert runs(found, step__key="goto.webinar.registered", contact=bob).get().branch == "yes"
    ann_run = runs(found, step__key="goto.webinar.register").get()
    assert (ann_run.contact, ann_run.status) == (ann, "done")
    assert Registration.objects.get(event__provider_key=events["plain"], contact=ann).source == "campaign"
    assert Enrollment.objects.get(contact=ann).context["goto"] == {"product": "webinar", "event": events["plain"]}
    assert runs(found, step__key="goto.training.register").get().contact == bob
    assert Registration.objects.filter(event__provider_key=events["course"], contact=bob).exists()


def test_registering_for_a_webinar_starts_a_campaign_with_the_webinar_in_its_context(sandbox, events):
    from liaison.campaigns.models import Enrollment
    from liaison.core import events as core_events
    from liaison.integrations.goto import services
    from tests.campaigns.helpers import campaign, run, runs

    found = campaign(None, [("goto.training.register", {"events": [events["course"]]})],
                     starts=[{"key": "goto.webinar.registers", "config": {"events": [events["plain"]]}}])
    dee = ContactFactory(email="dee@people.test", first_name="Dee", last_name="Ell")
    services.register_contact(Event.objects.get(provider_key=events["launch"]), dee,
                              fields={"organization": "Acme"})  # another webinar: no enrollment
    core_events.dispatch()
    assert not Enrollment.objects.exists()
    services.register_contact(Event.objects.get(provider_key=events["plain"]), dee)
    core_events.dispatch()
    enrollment = Enrollment.objects.get()
    assert enrollment.contact == dee and enrollment.context["goto"] == {"product": "webinar", "event": events["plain"]}
    run(found)
    assert runs(found, step__key="goto.training.register").get().status == "done"
    assert Registration.objects.filter(event__provider_key=events["course"], contact=dee).exists()


def test_request_a_support_session_and_e_mail_its_link(sandbox, account, smtp_server,
                                                      django_capture_on_commit_callbacks):
    from liaison.integrations.goto.models import AssistSession

    request = step("goto.assist.request")
    email = EmailFactory(name="Support", html="<p>Click: {assist_button}</p>")
    config = request.parse({"email_id": email.pk})
    assert request.check(config) == [] and request.unavailable_reason() is None
    iva = ContactFactory(email="iva@people.test", first_name="Iva", last_name="Help")
    with django_capture_on_commit_callbacks(execute=True):
        [result] = request.run([target(iva)], config)
    assert result.ok, result.message
    session = AssistSession.objects.get(session_id=result.data["session_id"])
    assert session.contact == iva and sandbox.state.assist_sessions[session.session_id].customer_email == \
        "iva@people.test"
    message, = smtp_server.to("iva@people.test")
    assert f'href="{session.customer_join_url}"' in message.html
    sandbox.scripted.fail(403, {"errorCode": "Forbidden", "description": "The expert may not start sessions."},
                          when=lambda method, path: method == "POST" and "session" in path.lower())
    [refused] = request.run([target(iva, 2)], config)
    assert not refused.ok and not refused.retry and "The expert may not start sessions." in refused.message
    without = EmailFactory(name="Plain", html="<p>Hi</p>")
    assert request.check(request.parse({"email_id": without.pk})) == [
        ("Request GoToAssist session (send link): “Plain” does not contain {assist_button}, so the link would not be "
        "in the message.")]


def test_the_builder_api_offers_goto_steps_with_their_events_and_refuses_unknown_ones(api, marketer, events,
                                                                                      admin_client):
    import json

    c = api(marketer)
    types = {t["key"]: t for t in json.loads(c.get("/api/campaigns/step-types").content)}
    register = types["goto.webinar.register"]
    assert register["kind"] == "action" and register["idempotent"] and not register["unavailable"]
    [setting] = register["config"]
    assert setting["name"] == "events" and events["plain"] in {value for value, _ in setting["choices"]}
    assert types["goto.webinar.registers"]["can_start"] and types["goto.webinar.registers"]["events"] == [
        "goto.webinar.registered"]
    assert types["goto.meeting.not_attended"]["kind"] == "condition"
    created = json.loads(c.post("/api/campaigns", json.dumps({"name": "Webinar follow-up"}),
                                content_type="application/json").content)
    url = f"/api/campaigns/{created['id']}/steps"
    bad = c.post(url, json.dumps({"key": "goto.webinar.attended", "config": {"events": ["4242"]}}),
                 content_type="application/json")
    assert bad.status_code == 422
    assert "there is no webinar 4242 (is GoTo synchronised?)" in bad.content.decode()
    good = c.post(url, json.dumps({"key": "goto.webinar.attended", "config": {"events": [events["plain"]]}}),
                  content_type="application/json")
    assert good.status_code in (200, 201), good.content
    page = admin_client.get(f"/campaigns/{created['id']}/")
    assert page.status_code == 200 and "Attended a webinar" in page.content.decode()
    leaves = types["goto.assist.leaves"]
    assert leaves["kind"] == "decision" and leaves["can_start"] and leaves["events"] == ["goto.assist.left"]
    assert [s["name"] for s in leaves["config"]] == ["max_rating"]
    too_high = c.post(url, json.dumps({"key": "goto.assist.leaves", "config": {"max_rating": 9}}),
                      content_type="application/json")
    assert too_high.status_code == 422 and "less than or equal to 5" in too_high.content.decode()
    rated = c.post(url, json.dumps({"key": "goto.assist.leaves", "config": {"max_rating": 2}, "parent": good.json()["id"],
                                    "branch": "yes"}), content_type="application/json")
    assert rated.status_code in (200, 201), rated.content
    page = admin_client.get(f"/campaigns/{created['id']}/").content.decode()
    assert "Leaves a support session rated at most 2 of 5" in page
    editor = admin_client.get(f"/campaigns/{created['id']}/steps/new/?kind=decision&key=goto.assist.leaves")
    assert 'id="id_step-c-max_rating"' in editor.content.decode()

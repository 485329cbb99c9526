"""Point rules score events once per fact (or contact); triggers fire once per contact, ever."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from liaison.contacts import services as contacts
from liaison.contacts.models import Activity, Contact
from liaison.core import jobs
from liaison.core.errors import ValidationFailed
from liaison.core.models import Job
from liaison.points import services
from liaison.points.models import PointAward, PointRule, PointTrigger, TriggerFiring
from tests.factories import ContactFactory
from tests.points.conftest import event, push

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def points(*people) -> list[int]:
    by_id = dict(Contact.objects.values_list("pk", "points"))
    return [by_id[p.pk] for p in people]


def rule(**data) -> PointRule:
    return services.save_rule({"name": data.pop("name", "Waving"), "event": data.pop("event", "tests.waved"),
                               "points": data.pop("points", 5), **data})


# -- rules ------------------------------------------------------------------------------------

def test_a_rule_scores_each_contact_of_an_event_and_names_itself_on_the_timeline():
    ann, bob = ContactFactory(), ContactFactory()
    rule(name="Waving hello", points=5)
    assert services.handle_events([event("tests.waved", [ann, bob], hand="left")]) == 2
    assert points(ann, bob) == [5, 5]
    entry = Activity.objects.get(contact=ann, kind="contact.points")
    assert entry.title == "+5 points: Waving hello" and entry.source.startswith("points:rule:")
    assert Activity.objects.filter(kind="contact.points").count() == 2  # one entry per award, no other


def test_other_events_and_inactive_rules_score_nothing():
    ann = ContactFactory()
    rule(points=5, active=False)
    rule(name="Nodding", event="tests.nodded", points=1)
    services.handle_events([event("tests.waved", [ann], hand="left")])
    assert points(ann) == [0] and not PointAward.objects.exists()


def test_a_rule_limited_to_subjects_scores_only_those():
    ann, bob = ContactFactory(), ContactFactory()
    rule(points=3, subjects=["right"])
    services.handle_events([event("tests.waved", [ann], hand="left"), event("tests.waved", [bob], hand="right")])
    assert points(ann, bob) == [0, 3]


def test_subjects_are_compared_as_strings():
    ann = ContactFactory()
    services.save_rule({"name": "Opens #7", "event": "tests.waved", "points": 2, "subjects": ["left"]})
    PointRule.objects.update(subjects=["7"])  # e.g. an e-mail id stored from a select
    services.handle_events([event("tests.waved", [ann], hand=7)])
    assert points(ann) == [2]


def test_once_per_fact_scores_each_new_fact_and_never_the_same_twice():
    ann = ContactFactory()
    rule(points=5)
    services.handle_events([event("tests.waved", [ann], ref="wave:1", hand="left"),
                            event("tests.waved", [ann], ref="wave:1", hand="left"),  # the same fact, again
                            event("tests.waved", [ann], ref="wave:2", hand="left")])
    assert points(ann) == [10]
    services.handle_events([event("tests.waved", [ann], ref="wave:2", hand="left")])  # re-delivered later
    assert points(ann) == [10] and PointAward.objects.count() == 2


def test_two_facts_in_one_batch_are_two_timeline_entries():
    ann = ContactFactory()
    rule(points=5)
    services.handle_events([event("tests.waved", [ann], ref="wave:1"), event("tests.waved", [ann], ref="wave:2")])
    assert points(ann) == [10]
    assert Activity.objects.filter(contact=ann, kind="contact.points").count() == 2


def test_once_per_contact_scores_the_first_fact_only():
    ann = ContactFactory()
    rule(points=5, once_per_contact=True)
    services.handle_events([event("tests.waved", [ann], ref="wave:1")])
    services.handle_events([event("tests.waved", [ann], ref="wave:2"), event("tests.waved", [ann], ref="wave:3")])
    assert points(ann) == [5] and PointAward.objects.get().event_ref == "wave:1"


def test_negative_points_take_points_away():
    ann = ContactFactory(points=10)
    rule(name="Unsubscribes", points=-4)
    services.handle_events([event("tests.waved", [ann])])
    assert points(ann) == [6]
    assert Activity.objects.get(contact=ann, kind="contact.points").title == "−4 points: Unsubscribes"


def test_several_rules_score_the_same_event():
    ann = ContactFactory()
    rule(name="Any wave", points=1)
    rule(name="Right wave", points=10, subjects=["right"])
    services.handle_events([event("tests.waved", [ann], hand="right")])
    assert points(ann) == [11]


def test_a_deleted_contact_scores_nothing_and_breaks_nothing():
    ann, gone = ContactFactory(), ContactFactory()
    gone_id = gone.pk
    gone.delete()
    rule(points=5)
    assert services.handle_events([event("tests.waved", [ann.pk, gone_id])]) == 1
    assert points(ann) == [5]


def queries(run) -> int:
    with CaptureQueriesContext(connection) as captured:
        run()
    return len(captured)


def test_scoring_a_batch_takes_the_same_queries_for_few_or_many_contacts():
    rule(points=5)
    rule(name="Right wave", points=2, subjects=["right"])
    few, many = [ContactFactory() for _ in range(3)], [ContactFactory() for _ in range(40)]
    counts = [queries(lambda group=group: services.handle_events([event("tests.waved", [p], hand="right")
                                                                    for p in group])) for group in (few, many)]
    assert counts[0] == counts[1]
    assert set(points(*few, *many)) == {7}


def test_rule_validation_says_what_is_wrong_next_to_each_field():
    rule(name="Taken")
    with pytest.raises(ValidationFailed) as exc:
        services.save_rule({"name": "taken", "event": "nope.nothing", "points": "0"})
    assert set(exc.value.errors) == {"name", "event", "points"}
    with pytest.raises(ValidationFailed) as exc:
        services.save_rule({"name": "Nods", "event": "tests.nodded", "points": 1, "subjects": ["x"]})
    assert "cannot be limited" in exc.value.errors["subjects"][0]
    with pytest.raises(ValidationFailed) as exc:
        services.save_rule({"name": "Feet", "event": "tests.waved", "points": 1, "subjects": ["foot"]})
    assert exc.value.errors["subjects"] == ["Unknown hand: foot."]
    with pytest.raises(ValidationFailed) as exc:
        services.save_rule({"name": "Big", "event": "tests.waved", "points": "lots"})
    assert exc.value.errors["points"] == ["Enter a whole number."]


def test_a_rule_whose_event_disappeared_can_still_be_edited_and_says_why_it_scores_nothing():
    r = rule()
    PointRule.objects.filter(pk=r.pk).update(event="gone.integration")
    r.refresh_from_db()
    assert "unavailable" in services.rule_problem(r)
    services.save_rule({"name": "Renamed"}, rule=r)
    assert PointRule.objects.get(pk=r.pk).name == "Renamed"


def test_describe_rule_names_the_event_and_the_subjects():
    assert services.describe_rule(rule(points=5, subjects=["left"], once_per_contact=True)) == \
        "+5 when waves (hand: Left hand), once per contact"


# -- triggers ----------------------------------------------------------------------------------

def trigger(threshold=10, actions=None, **data) -> PointTrigger:
    return services.save_trigger({"name": data.pop("name", "Hot lead"), "threshold": threshold,
                                  "actions": actions if actions is not None else [push()], **data})


def run_jobs() -> None:
    for job in Job.objects.filter(kind="points.fire", status=Job.Status.QUEUED):
        jobs.run_job(job.pk)


def test_a_contact_reaching_the_threshold_fires_the_trigger_once(run_on_commit, crm):
    ann, bob = ContactFactory(), ContactFactory()
    t = trigger(threshold=10)
    with run_on_commit():
        contacts.adjust_points([ann.pk, bob.pk], 6)
    assert not TriggerFiring.objects.exists()
    with run_on_commit():
        contacts.adjust_points([ann.pk], 4)
    firing = TriggerFiring.objects.get()
    assert firing.contact_id == ann.pk and firing.points == 10 and firing.status == "succeeded"
    assert firing.results == [{"key": "example.push", "label": "Push to Example CRM", "ok": True,
                               "message": "Added to VIP list.", "context": {"example": {"list": "vip"}}}]
    assert [c["email"] for c in crm.CALLS] == [ann.email]
    assert crm.CALLS[0]["dedupe_key"] == f"points:trigger:{t.pk}:contact:{ann.pk}:action:0"
    assert crm.CALLS[0]["source"] == "points"
    entry = Activity.objects.get(contact=ann, kind="points.trigger")
    assert entry.title == "Trigger “Hot lead”: done" and "Added to VIP list." in entry.data["summary"]
    # More points, or falling below and crossing again: never a second time.
    with run_on_commit():
        contacts.adjust_points([ann.pk], 5)
        contacts.adjust_points([ann.pk], -15)
    with run_on_commit():
        contacts.adjust_points([ann.pk], 20)
    assert TriggerFiring.objects.count() == 1 and len(crm.CALLS) == 1


def test_awards_fire_triggers(run_on_commit, crm):
    ann = ContactFactory()
    rule(points=10)
    trigger(threshold=10)
    with run_on_commit():
        services.handle_events([event("tests.waved", [ann])])
    assert TriggerFiring.objects.get().contact_id == ann.pk and len(crm.CALLS) == 1


def test_a_new_trigger_skips_contacts_already_above_unless_asked(run_on_commit, crm):
    high, low = ContactFactory(points=50), ContactFactory(points=1)
    with run_on_commit():
        t = trigger(threshold=10)
    assert TriggerFiring.objects.get(contact=high).status == "skipped" and crm.CALLS == []
    with run_on_commit():
        contacts.adjust_points([high.pk, low.pk], 10)
    assert TriggerFiring.objects.get(contact=low).status == "succeeded"
    assert [c["email"] for c in crm.CALLS] == [low.email]
    with run_on_commit():
        trigger(name="Everyone above 10", threshold=10, include_existing=True)
    assert sorted(c["email"] for c in crm.CALLS[1:]) == sorted([high.email, low.email])
    assert TriggerFiring.objects.filter(trigger=t).count() == 2


def test_an_inactive_trigger_fires_nothing_until_activated(run_on_commit, crm):
    ann = ContactFactory()
    with run_on_commit():
        t = trigger(threshold=5, active=False)
        contacts.adjust_points([ann.pk], 5)
    assert crm.CALLS == []
    with run_on_commit():
        services.save_trigger({"active": True}, trigger=t)
    assert [c["email"] for c in crm.CALLS] == [ann.email]


def test_a_failed_action_is_reported_with_the_providers_words_and_stops_the_next_ones(run_on_commit, crm):
    ann, bob = ContactFactory(), ContactFactory()
    trigger(threshold=1, actions=[push("vip", refuse=[ann.email]), push("newsletter")])
    with run_on_commit():
        contacts.adjust_points([ann.pk, bob.pk], 1)
    failed = TriggerFiring.objects.get(contact=ann)
    assert failed.status == "failed"
    assert failed.message == f"Push to Example CRM failed: Example CRM: Contact {ann.email} is locked."
    assert len(failed.results) == 1  # the second action did not run for her
    done = TriggerFiring.objects.get(contact=bob)
    assert done.status == "succeeded" and [r["ok"] for r in done.results] == [True, True]
    # The second action saw what the first one said.
    assert crm.CALLS[-1]["context"] == {"example": {"list": "vip"}}
    entry = Activity.objects.get(contact=ann, kind="points.trigger")
    assert entry.title == "Trigger “Hot lead”: failed" and "is locked" in entry.data["summary"]


def test_a_transient_failure_is_retried_with_the_jobs_back_off(run_on_commit, crm):
    ann = ContactFactory()
    trigger(threshold=1, actions=[push("vip"), push("newsletter")])
    crm.TRANSIENT["left"] = 1
    with run_on_commit():
        contacts.adjust_points([ann.pk], 1)
    firing = TriggerFiring.objects.get()
    assert firing.status == "retrying" and "busy (503)" in firing.message
    job = Job.objects.get(kind="points.fire")
    assert job.status == Job.Status.RETRYING and job.run_after is not None
    Job.objects.filter(pk=job.pk).update(run_after=None)
    jobs.run_job(job.pk)
    firing.refresh_from_db()
    assert firing.status == "succeeded" and [r["ok"] for r in firing.results] == [True, True]
    assert len(crm.CALLS) == 2  # each action once


def test_a_transient_failure_on_the_last_attempt_is_a_failure(run_on_commit, crm):
    ann = ContactFactory()
    trigger(threshold=1)
    crm.TRANSIENT["left"] = 99
    with run_on_commit():
        contacts.adjust_points([ann.pk], 1)
    job = Job.objects.get(kind="points.fire")
    Job.objects.filter(pk=job.pk).update(run_after=None, attempts=job.max_attempts - 1)
    jobs.run_job(job.pk)
    firing = TriggerFiring.objects.get()
    assert firing.status == "failed" and "gave up after several attempts" in firing.message
    assert Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED


def test_an_action_that_disappeared_fails_with_a_sentence(run_on_commit, crm):
    ann = ContactFactory()
    t = trigger(threshold=1)
    PointTrigger.objects.filter(pk=t.pk).update(actions=[{"key": "gone.action", "config": {}}])
    with run_on_commit():
        contacts.adjust_points([ann.pk], 1)
    firing = TriggerFiring.objects.get()
    assert firing.status == "failed" and "unavailable" in firing.message


def test_evaluate_fires_what_the_receiver_missed_and_requeues_stranded_firings(crm):
    ann = ContactFactory(points=30)
    t = PointTrigger.objects.create(name="Made by hand", threshold=10, actions=[push()])
    result = services.evaluate(dispatch_now=False)
    assert result.fired == 1 and len(result.jobs) == 1
    Job.objects.filter(pk=result.jobs[0]).update(status=Job.Status.FAILED)  # its worker crashed
    again = services.requeue_stranded(dispatch_now=False)
    assert len(again) == 1 and TriggerFiring.objects.get().job_id == again[0]
    jobs.run_job(again[0])
    assert TriggerFiring.objects.get(trigger=t, contact=ann).status == "succeeded"
    assert services.evaluate(dispatch_now=False).fired == 0


def test_trigger_validation(crm):
    with pytest.raises(ValidationFailed) as exc:
        services.save_trigger({"name": "", "threshold": 0, "actions": []})
    assert set(exc.value.errors) == {"name", "threshold", "actions"}
    with pytest.raises(ValidationFailed) as exc:
        services.save_trigger({"name": "T", "threshold": 5, "actions": [
            {"key": "nope.nothing"}, {"key": "example.push", "config": {}},
            {"key": "example.push", "config": {"crm_list": "unknown"}}]})
    errors = exc.value.errors
    assert errors["actions.0.key"] and errors["actions.1.config.crm_list"] == ["This setting is required."]
    assert errors["actions.2"] == ["There is no list “unknown” in Example CRM."]
    assert not PointTrigger.objects.exists()


def test_evaluating_changed_contacts_takes_the_same_queries_for_few_or_many():
    few, many = [ContactFactory(points=20) for _ in range(3)], [ContactFactory(points=20) for _ in range(40)]
    PointTrigger.objects.create(name="A", threshold=10, actions=[push()])
    PointTrigger.objects.create(name="B", threshold=15, actions=[push()])
    counts = [queries(lambda group=group: services.evaluate([p.pk for p in group], dispatch_now=False))
              for group in (few, many)]
    assert counts[0] == counts[1]
    assert TriggerFiring.objects.count() == 86


def test_a_trigger_runs_the_core_actions_add_to_segment_and_send_email(run_on_commit, smtp_server):
    from liaison.segments.models import Membership, Segment
    from tests.factories import EmailFactory

    ann = ContactFactory()
    hot = Segment.objects.create(name="Hot leads")
    email = EmailFactory(name="You are hot")
    trigger(threshold=10, actions=[{"key": "segments.add", "config": {"segments": [hot.pk]}},
                                   {"key": "emails.send", "config": {"email": email.pk}}])
    with run_on_commit():
        contacts.adjust_points([ann.pk], 12)
    firing = TriggerFiring.objects.get()
    assert firing.status == "succeeded", firing.results
    assert [r["message"] for r in firing.results] == ["Added to “Hot leads”.", "Queued “You are hot”."]
    assert Membership.objects.filter(segment=hot, contact=ann).exists()
    assert [m.to for m in smtp_server.messages] == [ann.email]

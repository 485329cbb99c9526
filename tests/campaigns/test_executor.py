"""The executor: enrolment, every step kind, branches, delays, decisions, retries, at most once."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from liaison.campaigns import executor, services
from liaison.campaigns.models import Enrollment, StepRun
from liaison.contacts.models import Activity
from liaison.core import events
from liaison.segments.models import Membership
from tests.campaigns.helpers import audience, campaign, run, runs, statuses
from tests.testapp import campaign_steps as example

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def test_an_action_runs_once_per_contact_with_its_dedupe_key(clock):
    segment, contacts = audience("Ada", "Bob", "Cy")
    found = campaign(segment, [("example.tag", {"tag": "vip"})])
    counts = run(found)
    assert (counts.enrolled, counts.executed, counts.done) == (3, 3, 3)
    step = found.steps.get()
    enrollments = {e.contact_id: e for e in Enrollment.objects.filter(campaign=found)}
    assert sorted(c["contact"] for c in example.CALLS) == sorted(c.pk for c in contacts)
    call = next(c for c in example.CALLS if c["contact"] == contacts[0].pk)
    assert call["dedupe_key"] == f"campaign:{found.pk}:step:{step.pk}:enrollment:{enrollments[contacts[0].pk].pk}"
    assert (call["source"], call["campaign_id"], call["step_id"]) == ("campaign", found.pk, step.pk)
    assert all(e.status == "completed" and e.context == {"tagged": "vip"} for e in enrollments.values())
    assert statuses(found) == {"done": 3}
    assert runs(found).first().message == "Tagged vip"
    # the contact's log is on the timeline
    titles = list(Activity.objects.filter(contact=contacts[0], kind__startswith="campaigns.").order_by("id")
                  .values_list("kind", "title"))
    assert titles == [("campaigns.entered", "Entered campaign “Test campaign”"),
                      ("campaigns.step", "Test campaign: Tag “vip” in the Example CRM")]
    entry = Activity.objects.get(contact=contacts[0], kind="campaigns.step")
    assert entry.data["url"] == f"/campaigns/{found.pk}/" and entry.data["summary"] == "Tagged vip"
    # a re-run finds nothing to do
    again = run(found)
    assert (again.enrolled, again.executed) == (0, 0) and len(example.CALLS) == 3
    assert services.step_stats(found)[step.pk]["done"] == 3


def test_condition_branches(clock):
    segment, contacts = audience("Ada", "Bob", "Ada")
    found = campaign(segment, [("example.named", {"names": ["Ada"]}, {}, {
        "yes": [("example.tag", {"tag": "yes"})], "no": [("example.tag", {"tag": "no"}, {}, {
            "": [("example.idempotent", {"tag": "after-no"})]})]})])
    run(found)
    tags = sorted((c["email"], c["tag"]) for c in example.CALLS)
    assert tags == sorted([(contacts[0].email, "yes"), (contacts[2].email, "yes"), (contacts[1].email, "no"),
                           (contacts[1].email, "after-no")])
    condition = found.steps.get(step_kind="condition")
    stats = services.step_stats(found)[condition.pk]
    assert (stats["done"], stats["yes"], stats["no"]) == (3, 2, 1)
    tree = services.campaign_tree(found)
    assert tree[0]["stats"]["yes"] == 2
    assert [c["stats"]["done"] for c in tree[0]["children"]] == [2, 1]
    assert Activity.objects.filter(contact=contacts[1], title__endswith="— no").exists()


def test_relative_delay_waits_with_a_frozen_clock(clock):
    segment, _ = audience("Ada")
    found = campaign(segment, [("example.tag", {"tag": "first"}, {}, {
        "": [("example.tag", {"tag": "later"}, {"delay": "relative", "delay_amount": 2, "delay_unit": "days"})]})])
    run(found)
    later = runs(found, step__config__tag="later").get()
    assert later.status == "pending" and later.due_at == T0 + timedelta(days=2)
    clock.move_to(T0 + timedelta(days=1, hours=23))
    run(found)
    assert [c["tag"] for c in example.CALLS] == ["first"]
    assert Enrollment.objects.get().status == "active"
    clock.move_to(T0 + timedelta(days=2))
    run(found)
    assert [c["tag"] for c in example.CALLS] == ["first", "later"]
    assert Enrollment.objects.get().status == "completed"


def test_delay_until_a_date(clock):
    segment, _ = audience("Ada")
    found = campaign(segment, [("example.tag", {"tag": "xmas"},
                                {"delay": "until", "delay_until": "2026-12-24T08:00:00Z"})])
    run(found)
    assert runs(found).get().due_at == datetime(2026, 12, 24, 8, tzinfo=UTC) and not example.CALLS
    clock.move_to(datetime(2026, 12, 24, 8, tzinfo=UTC))
    run(found)
    assert len(example.CALLS) == 1
    # a date already past runs at once
    late = campaign(audience("Bob")[0], [("example.tag", {"tag": "past"},
                                          {"delay": "until", "delay_until": "2026-01-01T00:00:00Z"})])
    run(late)
    assert [c["tag"] for c in example.CALLS][-1] == "past"


def _click(contacts, thing="demo", ref="click:1"):
    with transaction.atomic():
        events.announce("example.clicked", [c.pk for c in contacts], ref=ref, data={"thing": thing})
    events.dispatch()


def test_decision_yes_on_the_event_and_no_on_timeout(clock):
    segment, (ada, bob) = audience("Ada", "Bob")
    found = campaign(segment, [("example.clicked", {"thing": "demo"}, {"timeout_amount": 3, "timeout_unit": "days"}, {
        "yes": [("example.tag", {"tag": "clicked"})], "no": [("example.tag", {"tag": "silent"})]})])
    run(found)
    decision = found.steps.get(step_kind="decision")
    assert statuses(found) == {"waiting": 2}
    assert runs(found).first().deadline == T0 + timedelta(days=3)
    clock.move_to(T0 + timedelta(hours=5))
    _click([ada], thing="other", ref="click:0")  # not the thing this decision waits for
    assert statuses(found) == {"waiting": 2}
    _click([ada])
    _click([ada])  # the same fact again counts once
    ada_run = runs(found, step=decision, contact=ada).get()
    assert (ada_run.status, ada_run.branch, ada_run.data["event"]) == ("done", "yes", "click:1")
    assert Enrollment.objects.get(contact=ada).context == {"clicked": "demo"}
    run(found)
    call = example.CALLS[-1]
    assert (call["email"], call["tag"], call["context"]) == (ada.email, "clicked", {"clicked": "demo"})
    clock.move_to(T0 + timedelta(days=3))
    counts = run(found)
    assert counts.timed_out == 1
    bob_run = runs(found, step=decision, contact=bob).get()
    assert (bob_run.status, bob_run.branch) == ("done", "no")
    assert sorted((c["email"], c["tag"]) for c in example.CALLS) == sorted([(ada.email, "clicked"),
                                                                            (bob.email, "silent")])
    stats = services.step_stats(found)[decision.pk]
    assert (stats["yes"], stats["no"]) == (1, 1)


def test_an_event_before_the_decision_does_not_count(clock):
    segment, (ada,) = audience("Ada")
    found = campaign(segment, [("example.tag", {"tag": "first"}, {}, {"": [
        ("example.clicked", {}, {"timeout_amount": 1, "timeout_unit": "days"})]})], publish=False)
    with transaction.atomic():
        events.announce("example.clicked", [ada.pk], ref="early", occurred_at=T0 - timedelta(hours=1))
    services.publish(found)
    run(found)
    events.dispatch()
    assert statuses(found, "example.clicked") == {"waiting": 1}


def test_an_event_stamped_to_the_second_the_wait_began_counts(clock):
    segment, (ada,) = audience("Ada")
    found = campaign(segment, [("example.clicked", {}, {"timeout_amount": 1, "timeout_unit": "days"})])
    clock.move_to(T0 + timedelta(milliseconds=400))
    run(found)  # waits from 09:00:00.400
    # GoTo says 09:00:00 for what happened at 09:00:00.700: the same second counts.
    with transaction.atomic():
        events.announce("example.clicked", [ada.pk], ref="same-second", occurred_at=T0)
        events.announce("example.clicked", [ada.pk], ref="a-second-early", occurred_at=T0 - timedelta(seconds=1))
    events.dispatch()
    assert (runs(found).get().status, runs(found).get().data["event"]) == ("done", "same-second")


def test_start_event_enrols_once_per_fact(clock):
    _, (ada, bob) = audience("Ada", "Bob")
    found = campaign(None, [("example.tag", {"tag": "welcome"})],
                     starts=[{"key": "example.clicked", "config": {"thing": "pricing"}}], reentry="always")
    _click([ada, bob], thing="docs", ref="c0")
    assert not Enrollment.objects.exists()
    _click([ada], thing="pricing", ref="c1")
    enrollment = Enrollment.objects.get()
    assert (enrollment.contact_id, enrollment.source) == (ada.pk, "example.clicked")
    assert enrollment.context["event"]["thing"] == "pricing" and enrollment.context["clicked"] == "pricing"
    _click([ada], thing="pricing", ref="c1")  # delivered twice: one enrollment
    run(found)
    assert Enrollment.objects.count() == 1 and len(example.CALLS) == 1
    _click([ada], thing="pricing", ref="c2")  # a new fact after the run is over: a new round (reentry always)
    assert list(Enrollment.objects.order_by("round").values_list("round", flat=True)) == [1, 2]


def test_a_failed_step_keeps_the_providers_words_and_stops_the_branch(clock):
    segment, (ada, _bob) = audience("Ada", "Bob")
    example.OUTCOMES[ada.email] = "fail"
    found = campaign(segment, [("example.tag", {"tag": "crm"}, {}, {"": [("example.tag", {"tag": "next"})]})])
    counts = run(found)
    assert (counts.failed, counts.done) == (1, 2)
    failed = runs(found, contact=ada).get()
    assert (failed.status, failed.message) == ("failed", "Example CRM: contact is locked by another user")
    assert Activity.objects.filter(contact=ada, title__endswith="— failed").exists()
    assert [c["tag"] for c in example.CALLS if c["email"] == ada.email] == ["crm"]
    assert services.step_stats(found)[failed.step_id]["failed"] == 1


def test_a_transient_failure_is_retried_then_failed_with_its_reason(clock):
    segment, (ada,) = audience("Ada")
    example.OUTCOMES[ada.email] = "retry"
    found = campaign(segment, [("example.tag", {"tag": "crm"})])
    run(found)
    row = runs(found).get()
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.message == "Attempt 1 failed, trying again: Example CRM timed out"
    assert row.due_at == T0 + executor.backoff(1)
    run(found)
    assert len(example.CALLS) == 1  # not yet due
    clock.move_to(row.due_at)
    run(found)
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("pending", 2)
    clock.move_to(row.due_at)
    run(found)
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.message == "Failed after 3 attempts: Example CRM timed out"
    assert Enrollment.objects.get().status == "completed"


def test_a_batch_raising_retryable_error_then_succeeding(clock):
    segment, _ = audience("Ada", "Bob")
    example.OUTCOMES["*"] = "raise"
    found = campaign(segment, [("example.tag", {"tag": "crm"})])
    run(found)
    assert statuses(found) == {"pending": 2}
    assert runs(found).first().message == "Attempt 1 failed, trying again: Example CRM is busy (503)."
    del example.OUTCOMES["*"]
    clock.move_to(T0 + executor.backoff(1))
    run(found)
    assert statuses(found) == {"done": 2}


def test_at_most_once_by_constraint(clock):
    segment, (ada,) = audience("Ada")
    found = campaign(segment, [("example.tag", {"tag": "crm"})])
    run(found)
    row = runs(found).get()
    with pytest.raises(IntegrityError), transaction.atomic():
        StepRun.objects.create(enrollment=row.enrollment, step=row.step, campaign=found, contact=ada)


def test_a_run_interrupted_by_a_crash_is_not_repeated(clock):
    segment, _ = audience("Ada", "Bob")
    found = campaign(segment, [("example.tag", {"tag": "crm"}), ("example.idempotent", {"tag": "again"})])
    executor.enrol_audiences(found, timezone.now())
    tag, again = found.steps.order_by("position")
    executor._claim(tag, 10, timezone.now())  # the worker dies after claiming: nothing ran
    executor._claim(again, 10, timezone.now())
    assert statuses(found) == {"running": 4}
    counts = run(found)  # too early to tell a dead worker from a slow one
    assert counts.interrupted == 0 and statuses(found) == {"running": 4}
    clock.move_to(T0 + executor.INTERRUPTED_AFTER)
    counts = run(found)
    assert (counts.interrupted, counts.recovered) == (2, 2)
    assert statuses(found, "example.tag") == {"failed": 2}
    assert runs(found, step=tag).first().message == executor.INTERRUPTED
    assert statuses(found, "example.idempotent") == {"done": 2}
    assert [c["tag"] for c in example.CALLS] == ["again", "again"]
    assert run(found).executed == 0


def test_two_workers_never_claim_the_same_rows(clock):
    segment, _ = audience("Ada", "Bob", "Cy")
    found = campaign(segment, [("example.tag", {"tag": "crm"})])
    executor.enrol_audiences(found, timezone.now())
    step = found.steps.get()
    _, first = executor._claim(step, 2, timezone.now())
    _, second = executor._claim(step, 2, timezone.now())
    assert len(first) == 2 and len(second) == 1
    assert not {r["pk"] for r in first} & {r["pk"] for r in second}


def test_an_unavailable_step_keeps_contacts_waiting_with_the_reason(clock):
    segment, _ = audience("Ada")
    found = campaign(segment, [("example.offline", {"tag": "crm"})])
    example.OFFLINE.append("The Example CRM connection is switched off.")
    counts = run(found)
    row = runs(found).get()
    assert (row.status, row.message) == ("pending", "Waiting: The Example CRM connection is switched off.")
    assert counts.blocked == {row.step_id: row.message}
    example.OFFLINE.clear()
    run(found)
    row.refresh_from_db()
    assert row.status == "done" and len(example.CALLS) == 1


def test_pause_and_resume(clock):
    segment, _ = audience("Ada")
    found = campaign(segment, [("example.tag", {"tag": "a"}, {}, {"": [
        ("example.tag", {"tag": "b"}, {"delay": "relative", "delay_amount": 1, "delay_unit": "hours"})]})])
    run(found)
    services.pause(found)
    clock.move_to(T0 + timedelta(hours=2))
    assert run().executed == 0 and run(found).executed == 0
    audience("Bob", segment=segment)
    assert run(found).enrolled == 0
    services.resume(found)
    counts = run(found)
    assert (counts.enrolled, counts.executed) == (1, 2)  # Ada's second step, Bob's first


def _rejoin(segment, contact):
    Membership.objects.filter(segment=segment, contact=contact).delete()
    Membership.objects.create(segment=segment, contact=contact, added_at=timezone.now())


@pytest.mark.parametrize(("reentry", "rounds_after_rejoin", "rounds_while_member"), [
    ("never", 1, 1), ("rejoin", 2, 1), ("always", 2, 2)])
def test_reentry(clock, reentry, rounds_after_rejoin, rounds_while_member):
    segment, (ada,) = audience("Ada")
    found = campaign(segment, [("example.tag", {"tag": "a"})], reentry=reentry)
    run(found)
    assert Enrollment.objects.get().status == "completed"
    clock.move_to(T0 + timedelta(hours=1))
    run(found)  # still a member, nothing changed
    assert Enrollment.objects.count() == rounds_while_member
    Enrollment.objects.filter(round=2).delete()
    clock.move_to(T0 + timedelta(hours=2))
    _rejoin(segment, ada)
    run(found)
    assert Enrollment.objects.count() == rounds_after_rejoin


def test_an_active_enrollment_never_gets_a_second_round(clock):
    segment, (ada,) = audience("Ada")
    found = campaign(segment, [("example.tag", {"tag": "a"}, {"delay": "relative", "delay_amount": 1,
                                                             "delay_unit": "days"})], reentry="always")
    run(found)
    clock.move_to(T0 + timedelta(hours=1))
    _rejoin(segment, ada)
    run(found)
    assert Enrollment.objects.count() == 1


def test_stop_enrollments_skips_what_is_left(clock):
    segment, (ada, bob) = audience("Ada", "Bob")
    found = campaign(segment, [("example.tag", {"tag": "a"}, {"delay": "relative", "delay_amount": 1,
                                                             "delay_unit": "days"})])
    run(found)
    assert services.stop_enrollments(found, [ada.pk]) == 1
    clock.move_to(T0 + timedelta(days=1))
    run(found)
    assert [c["email"] for c in example.CALLS] == [bob.email]
    assert runs(found, contact=ada).get().status == "skipped"


def test_an_enrollment_completes_when_every_path_is_over(clock):
    segment, _ = audience("Ada")
    found = campaign(segment, [("example.tag", {"tag": "now"}),
                               ("example.tag", {"tag": "later"}, {"delay": "relative", "delay_amount": 1,
                                                                  "delay_unit": "hours"})])
    run(found)
    assert Enrollment.objects.get().status == "active"
    clock.move_to(T0 + timedelta(hours=1))
    run(found)
    enrollment = Enrollment.objects.get()
    assert (enrollment.status, enrollment.completed_at) == ("completed", T0 + timedelta(hours=1))


def test_pausing_stops_between_batches(clock):
    segment, _ = audience(*["Ada"] * 120)  # example.tag runs 50 at a time
    found = campaign(segment, [("example.tag", {"tag": "a"})])
    original = example.TagAction.run

    def pause_after_first_batch(self, targets, config):
        services.pause(found)
        return original(self, targets, config)

    example.TagAction.run = pause_after_first_batch
    try:
        run(found)
    finally:
        example.TagAction.run = original
    assert statuses(found) == {"done": 50, "pending": 70}
    services.resume(found)
    run(found)
    assert statuses(found) == {"done": 120}


def test_a_campaign_deleted_during_a_pass_stops_it(clock):
    segment, _ = audience("Ada", "Bob")
    found = campaign(segment, [("example.tag", {"tag": "a"}, {}, {"": [("example.tag", {"tag": "b"})]})])
    original = example.TagAction.run

    def delete_campaign(self, targets, config):
        found.delete()
        return original(self, targets, config)

    example.TagAction.run = delete_campaign
    try:
        counts = run(found)
    finally:
        example.TagAction.run = original
    assert counts.executed == 2 and not StepRun.objects.exists()


@pytest.mark.parametrize("exit_on_leave", [True, False])
def test_leaving_the_audience(clock, exit_on_leave):
    segment, (ada, bob) = audience("Ada", "Bob")
    found = campaign(segment, [("example.tag", {"tag": "later"}, {"delay": "relative", "delay_amount": 1,
                                                                 "delay_unit": "days"})],
                     exit_on_leave=exit_on_leave)
    run(found)
    Membership.objects.filter(segment=segment, contact=ada).delete()
    clock.move_to(T0 + timedelta(days=1))
    counts = run(found)
    ada_run = runs(found, contact=ada).get()
    if exit_on_leave:
        assert counts.left == 1 and [c["email"] for c in example.CALLS] == [bob.email]
        assert (ada_run.status, ada_run.message) == ("skipped", "Left the campaign's audience.")
        assert Enrollment.objects.get(contact=ada).status == "stopped"
    else:
        assert counts.left == 0 and len(example.CALLS) == 2 and ada_run.status == "done"


def test_leaving_does_not_stop_contacts_who_came_from_an_event(clock):
    segment, (ada,) = audience("Ada")
    found = campaign(segment, [("example.tag", {"tag": "later"}, {"delay": "relative", "delay_amount": 1,
                                                                 "delay_unit": "hours"})],
                     starts=[{"key": "example.clicked", "config": {}}])
    _, (bob,) = audience("Bob")
    _click([bob])
    run(found)
    assert Enrollment.objects.count() == 2
    clock.move_to(T0 + timedelta(hours=1))
    run(found)
    assert sorted(c["email"] for c in example.CALLS) == sorted([ada.email, bob.email])


def test_interrupted_conditions_run_again_and_decisions_wait_again(clock):
    segment, _ = audience("Ada")
    found = campaign(segment, [("example.named", {"names": ["Ada"]}),
                               ("example.clicked", {}, {"timeout_amount": 1, "timeout_unit": "days"})])
    executor.enrol_audiences(found, timezone.now())
    condition = found.steps.get(step_kind="condition")
    executor._claim(condition, 10, timezone.now())
    runs(found, step__step_kind="decision").update(status="running", claim="dead")
    clock.move_to(T0 + executor.INTERRUPTED_AFTER)
    counts = run(found)
    assert (counts.recovered, counts.interrupted) == (2, 0)
    assert runs(found, step=condition).get().branch == "yes"
    assert statuses(found, "example.clicked") == {"waiting": 1}


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_at_once_run_each_step_once():
    import threading

    from django.db import connection

    segment, _ = audience(*[f"N{i}" for i in range(300)])
    found = campaign(segment, [("example.tag", {"tag": "a"}, {}, {"": [("example.idempotent", {"tag": "b"})]})])
    executor.enrol_audiences(found, timezone.now())
    errors = []

    def worker():
        try:
            executor.run(found.pk)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(example.CALLS) == 600
    assert len({(c["step_id"], c["contact"]) for c in example.CALLS}) == 600
    assert statuses(found) == {"done": 600}


def test_deleting_the_step_contacts_wait_at_completes_their_run(clock):
    segment, _ = audience("Ada", "Bob")
    found = campaign(segment, [("example.tag", {"tag": "now"}),
                               ("example.tag", {"tag": "later"}, {"delay": "relative", "delay_amount": 1,
                                                                  "delay_unit": "days"})])
    run(found)
    assert set(Enrollment.objects.values_list("status", flat=True)) == {"active"}
    services.delete_step(found.steps.get(config__tag="later"))
    assert set(Enrollment.objects.values_list("status", flat=True)) == {"completed"}


def test_the_executor_runs_every_minute():
    from liaison.core.models import Schedule

    schedule = Schedule.objects.get(owner_key="builtin:campaigns.run")
    assert (schedule.kind, schedule.cron) == ("campaigns.run", "* * * * *")

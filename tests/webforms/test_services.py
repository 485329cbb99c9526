"""Saving forms (with save-time validators), submitting, actions in order and in jobs, stats."""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict

from liaison.contacts.models import Activity, Contact
from liaison.core.contributions import FormAction, FormValidator
from liaison.core.errors import RetryableError, ValidationFailed
from liaison.core.models import EventRecord, Job
from liaison.core.registry import registry
from liaison.segments import services as segments
from liaison.segments.models import Membership
from liaison.webforms import services
from liaison.webforms.models import ActionRun, Form, FormField, Submission
from tests.testapp import contributions
from tests.webforms.conftest import GOOD, SIGNUP_FIELDS

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def post(data: dict) -> QueryDict:
    q = QueryDict(mutable=True)
    for key, value in data.items():
        q.setlist(key, value if isinstance(value, list) else [value])
    return q


@pytest.fixture(autouse=True)
def _capture(django_capture_on_commit_callbacks):
    """Submissions are processed by a job dispatched after commit: let it run, as after a real one."""
    global capture
    capture = django_capture_on_commit_callbacks


def submit(form: Form, data: dict, process: bool = True):
    public = services.public_form(form.slug)
    with capture(execute=process):
        outcome = services.submit(public, post(data), services.Visitor(ip="10.0.0.1"))
    return outcome


capture = None


def test_a_form_is_saved_with_fields_and_actions_in_order(signup):
    assert signup.slug == "sign-up" and signup.published
    keys = list(signup.fields.values_list("key", flat=True))
    assert keys == ["e_mail", "first_name", "last_name", "age", "code", "colour", "topics", "consent", "utm_source"]
    assert signup.fields.get(key="colour").options == [{"value": "red", "label": "Red"},
                                                       {"value": "blue", "label": "Blue"}]
    again = services.save_form({"name": "Sign-up"})
    assert again.slug == "sign-up-2"


@pytest.mark.parametrize("change, key", [
    ({"name": ""}, "name"),
    ({"slug": "Not a slug!"}, "slug"),
    ({"redirect_url": "javascript:alert(1)"}, "redirect_url"),
    ({"fields": [{"label": ""}]}, "fields.0.label"),
    ({"fields": [{"label": "A", "key": "x"}, {"label": "B", "key": "x"}]}, "fields.1.key"),
    ({"fields": [{"label": "A", "key": "website_url"}]}, "fields.0.key"),
    ({"fields": [{"label": "A", "type": "nope.nothing"}]}, "fields.0.type"),
    ({"fields": [{"label": "A", "type": "select"}]}, "fields.0.options"),
    ({"fields": [{"label": "A", "validation": {"pattern": "(["}}]}, "fields.0.validation.pattern"),
    ({"fields": [{"label": "A", "validation": {"colour": 1}}]}, "fields.0.validation.colour"),
    ({"fields": [{"label": "A", "contact_field": "shoe_size"}]}, "fields.0.contact_field"),
    ({"fields": [{"label": "A", "contact_field": "city"}, {"label": "B", "contact_field": "city"}]},
     "fields.1.contact_field"),
    ({"fields": [{"label": "A", "type": "select", "options": "a", "config": {"multiple": "sometimes"}}]},
     "fields.0.config.multiple"),
    ({"actions": [{"key": "nope.nothing"}]}, "actions.0.key"),
    ({"actions": [{"key": "contact.points", "config": {}}]}, "actions.0.config.points"),
    ({"actions": [{"key": "contact.points", "config": {"points": 0}}]}, "actions.0"),
    ({"actions": [{"key": "segments.add", "config": {"segment_id": 999999}}]}, "actions.0"),
])
def test_bad_forms_are_refused_next_to_the_field_and_change_nothing(signup, change, key):
    before = list(signup.fields.values_list("key", flat=True))
    with pytest.raises(ValidationFailed) as refused:
        services.save_form({"name": "Sign-up", **change}, form=signup)
    assert key in refused.value.errors, refused.value.errors
    assert list(FormField.objects.filter(form=signup).values_list("key", flat=True)) == before
    assert Form.objects.get(pk=signup.pk).name == "Sign-up"


def test_core_validator_needs_the_email_for_actions_that_need_the_contact(db):
    with pytest.raises(ValidationFailed) as refused:
        services.save_form({"name": "Quiz", "fields": [{"label": "Answer"}],
                            "actions": [{"key": "contact.points", "config": {"points": 5}}]})
    assert refused.value.errors["__all__"] == [
        "“Adjust points” needs the contact, but the field mapped to the contact's E-mail is missing: add a "
        "required field mapped to E-mail."]
    services.save_form({"name": "Feedback", "fields": [{"label": "Answer"}]})  # no action: no contact needed


PUSH = {"key": "example.push", "config": {"plan": "form", "email_field": "email", "first_name_field": "first",
                                          "last_name_field": "last"}}


def test_save_time_validator_of_an_integration_names_what_is_missing(db):
    """Mautic's rules for "register to webinar": names and e-mail present and required, and a
    required event field when the visitor selects."""
    fields = [{"label": "E-mail", "key": "email", "type": "email", "required": True, "contact_field": "email"},
              {"label": "First", "key": "first", "contact_field": "first_name"}]
    with pytest.raises(ValidationFailed) as refused:
        services.save_form({"name": "Webinar", "fields": fields, "actions": [PUSH]})
    assert refused.value.errors == {"actions.0": ["Push to Example CRM: the form has no field “last”."]}
    fields.append({"label": "Last", "key": "last", "contact_field": "last_name", "required": True})
    with pytest.raises(ValidationFailed) as refused:
        services.save_form({"name": "Webinar", "fields": fields, "actions": [PUSH]})
    assert refused.value.errors["__all__"] == [
        "The field “First” (First name) must be required.",
        "The required field “Plan” is missing: the visitor cannot select a plan."]
    fields[1]["required"] = True
    fields.append({"label": "Plan", "key": "plan", "type": "example.plan", "required": True})
    form = services.save_form({"name": "Webinar", "fields": fields, "actions": [PUSH]})
    assert form.actions.get().config["plan"] == "form"
    assert registry.get(FormValidator, "example.push_fields").label


def test_submission_validates_every_field_with_messages_next_to_them(signup):
    outcome = submit(signup, {"e_mail": "not-an-address", "age": "12", "code": "abc", "colour": "green",
                              "topics": ["news", "spam"]})
    assert outcome.errors == {
        "e_mail": ["Enter a valid e-mail address."], "first_name": ["This field is required."],
        "age": ["Enter 18 or more."], "code": ["Three capitals."], "colour": ["“green” is not one of the choices."],
        "topics": ["“spam” is not one of the choices."], "consent": ["Please tick this box."]}
    assert outcome.raw["first_name"] == "" and outcome.raw["age"] == "12"
    assert not Submission.objects.exists() and not Contact.objects.exists()


def test_a_valid_submission_upserts_the_contact_stores_it_and_writes_the_timeline(signup):
    outcome = submit(signup, GOOD)
    assert outcome.ok
    submission = outcome.submission
    contact = Contact.objects.get(email_key="ann@example.com")
    assert (contact.first_name, contact.last_name) == ("Ann", "Lee")
    assert submission.contact == contact and submission.ip == "10.0.0.1"
    assert submission.data == {"e_mail": "ann@example.com", "first_name": "Ann", "last_name": "Lee", "age": 30,
                               "code": "ABC", "colour": "blue", "topics": ["news", "events"], "consent": True,
                               "utm_source": "direct"}
    entry = Activity.objects.get(kind="webforms.submitted")
    assert entry.contact == contact and entry.title == "Submitted the form “Sign-up”"
    assert entry.data["url"] == f"/forms/{signup.pk}/submissions/{submission.pk}/"
    signup.refresh_from_db()
    assert signup.submission_count == 1
    announced = EventRecord.objects.get(key="webforms.submitted")  # for points and campaigns
    assert announced.contact_ids == [contact.pk] and announced.ref == f"webforms:submission:{submission.pk}"
    assert announced.data == {"form_id": signup.pk, "submission_id": submission.pk}
    again = submit(signup, {**GOOD, "first_name": "Annie"})
    assert again.ok and Contact.objects.count() == 1
    assert Contact.objects.get().first_name == "Annie"


def test_a_value_the_contact_refuses_is_shown_next_to_the_form_field(db):
    form = services.save_form({"name": "Call me", "fields": [
        {"label": "E-mail", "type": "email", "required": True, "contact_field": "email"},
        {"label": "Phone", "contact_field": "phone"}]})
    outcome = submit(form, {"e_mail": "a@example.com", "phone": "call me maybe"})
    assert list(outcome.errors) == ["phone"] and "not a valid phone number" in outcome.errors["phone"][0]
    assert not Submission.objects.exists() and not Contact.objects.exists()


def test_core_actions_run_in_order_in_the_request(signup, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        vip = segments.save_segment({"name": "VIP"})
    services.save_form({"actions": [
        {"key": "segments.add", "config": {"segment_id": vip.pk}},
        {"key": "contact.points", "config": {"points": 5, "reason": "signed up"}},
        {"key": "contact.update_field", "config": {"field": "city", "value": "Lyon ({colour})"}},
        {"key": "segments.remove", "config": {"segment_id": vip.pk}},
    ]}, form=signup)
    outcome = submit(signup, GOOD)
    runs = list(outcome.submission.action_runs.values_list("label", "status", "message"))
    assert runs == [("Add to segment", "succeeded", "Added to “VIP”."),
                    ("Adjust points", "succeeded", "+5 points."),
                    ("Update contact field", "succeeded", "City set to “Lyon (blue)”."),
                    ("Remove from segment", "succeeded", "Removed from “VIP”.")]
    contact = Contact.objects.get()
    assert contact.points == 5 and contact.city == "Lyon (blue)"
    assert not Membership.objects.filter(segment=vip).exists()
    kinds = list(Activity.objects.filter(contact=contact).order_by("id").values_list("kind", flat=True))
    assert kinds == ["webforms.submitted", "segments.added", "contact.points", "segments.removed"]
    assert not Job.objects.filter(kind="webforms.actions").exists()


def push_form(**config):
    fields = [{"label": "E-mail", "key": "email", "type": "email", "required": True, "contact_field": "email"},
              {"label": "First", "key": "first", "required": True, "contact_field": "first_name"},
              {"label": "Last", "key": "last", "required": True, "contact_field": "last_name"},
              {"label": "Plan", "key": "plan", "type": "example.plan", "required": True}]
    return services.save_form({"name": "Plans", "fields": fields, "actions": [
        {"key": "contact.points", "config": {"points": 1}},
        {**PUSH, "config": {**PUSH["config"], **config}},
        {"key": "contact.points", "config": {"points": 10}}]})


PUSH_DATA = {"email": "bo@example.com", "first": "Bo", "last": "Diddley", "plan": "pro"}


def test_actions_that_call_out_run_in_a_job_with_their_outcome_on_the_timeline(db, django_capture_on_commit_callbacks):
    form = push_form()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        outcome = submit(form, PUSH_DATA, process=False)
    # Nothing was done during the request but taking the submission in.
    assert outcome.submission is None and not Contact.objects.exists()
    with django_capture_on_commit_callbacks(execute=False) as later:
        for callback in callbacks:  # the processing job: contact, timeline, the actions before the call-out
            callback()
    assert contributions.PUSHED == []
    runs = {r.order: r for r in outcome.submission.action_runs.all()}
    assert (runs[0].status, runs[0].in_job) == ("succeeded", False)
    assert all(runs[i].status == "pending" and runs[i].in_job and runs[i].job_id for i in (1, 2))
    assert Contact.objects.get().points == 1
    with django_capture_on_commit_callbacks(execute=True):
        for callback in later:  # the job of the action calling out, and the rest in order
            callback()
    assert contributions.PUSHED == [{"email": "bo@example.com", "first_name": "Bo", "last_name": "Diddley",
                                     "plan": "pro", "contact_id": Contact.objects.get().pk}]
    runs = {r.order: r for r in outcome.submission.action_runs.all()}
    assert runs[1].status == "succeeded" and runs[1].message == "Pushed to Example CRM on plan pro."
    assert runs[2].status == "succeeded" and Contact.objects.get().points == 11
    entry = Activity.objects.get(kind="webforms.action", title="Push to Example CRM: done")
    assert entry.data["summary"] == "Pushed to Example CRM on plan pro."


def test_a_transient_failure_is_retried_and_a_final_one_is_recorded(db, django_capture_on_commit_callbacks):
    from liaison.core import jobs

    form = push_form(plan="team")
    contributions.FAILURES.extend([RetryableError("Example CRM is busy.")])
    outcome = submit(form, PUSH_DATA)
    run = outcome.submission.action_runs.get(order=1)
    assert run.status == "retrying" and run.message == "Example CRM is busy."
    job = Job.objects.get(kind="webforms.actions")
    assert job.status == "retrying"
    Job.objects.filter(pk=job.pk).update(run_after=None)
    jobs.run_job(job.pk)
    run.refresh_from_db()
    assert run.status == "succeeded" and contributions.PUSHED[0]["plan"] == "team"
    # a final failure: the message reaches the submission and the timeline, later actions still run
    contributions.FAILURES.append(ValueError("Example CRM refused the plan."))
    outcome = submit(form, {**PUSH_DATA, "email": "cy@example.com"})
    runs = {r.order: r for r in outcome.submission.action_runs.all()}
    assert runs[1].status == "failed" and runs[1].message == "Example CRM refused the plan."
    assert runs[2].status == "succeeded"
    assert Activity.objects.filter(kind="webforms.action", title="Push to Example CRM: failed").exists()


def test_a_field_type_refuses_a_choice_no_longer_offered(db, monkeypatch):
    form = push_form()
    monkeypatch.delitem(contributions.PLANS, "pro")
    outcome = submit(form, PUSH_DATA)
    assert outcome.errors == {"plan": ["pro: this plan is no longer available."]}


def test_an_action_of_a_removed_integration_is_recorded_not_fatal(signup):
    from dataclasses import dataclass

    from liaison.core.contributions import ActionResult

    @dataclass(eq=False, repr=False)
    class Temporary(FormAction):
        def run(self, submission, contact, config):
            return ActionResult(True, "ran")

    with registry.override(Temporary(key="plugin.temp", label="Temporary")):
        services.save_form({"actions": [{"key": "plugin.temp"}]}, form=signup)
    services._cache.clear()
    outcome = submit(signup, GOOD)
    run = outcome.submission.action_runs.get()
    assert run.status == "failed" and "unavailable" in run.message
    # the stored action can be kept while its integration is away; a new unknown one cannot
    services.save_form({"name": "Sign-up 2"}, form=signup)
    with pytest.raises(ValidationFailed):
        services.save_form({"actions": [{"key": "plugin.temp"}, {"key": "plugin.other"}]}, form=signup)


def test_views_are_counted_in_batches_and_give_the_conversion(signup, monkeypatch):
    services.flush_views()
    monkeypatch.setattr(services, "VIEW_FLUSH_SECONDS", 3600)
    for _ in range(4):
        services.count_view(signup)
    assert Form.objects.get(pk=signup.pk).views == 0
    assert services.flush_views() == 4
    submit(signup, GOOD)
    stats = services.stats(signup)
    assert (stats["views"], stats["submissions"], stats["conversion"]) == (4, 1, 25.0)
    assert stats["days"][-1]["views"] == 4 and stats["days"][-1]["submissions"] == 1
    for _ in range(2):
        services.count_view(signup)
    assert services.stats(signup)["views"] == 6


def test_csv_export_has_a_column_per_field(signup):
    submit(signup, GOOD)
    lines = list(services.submissions_csv(signup))
    assert lines[0].lstrip("\ufeff").startswith("submission,submitted_at,contact_id,contact_email,E-mail,First name")
    assert "ann@example.com" in lines[1] and "news|events" in lines[1] and "True" in lines[1]


def test_the_cached_public_form_follows_edits(signup):
    first = services.public_form(signup.slug)
    assert services.public_form(signup.slug) is first
    services.save_form({"fields": [*SIGNUP_FIELDS, {"label": "Extra"}]}, form=signup)
    assert len(services.public_form(signup.slug).fields) == len(SIGNUP_FIELDS) + 1
    services.save_form({"published": False}, form=signup)
    assert services.public_form(signup.slug) is None


def test_multivaluedict_input_works_like_a_querydict(signup):
    data = MultiValueDict({k: v if isinstance(v, list) else [v] for k, v in GOOD.items()})
    with capture(execute=True):
        assert services.submit(services.public_form(signup.slug), data).ok
    assert ActionRun.objects.count() == 0


def test_the_request_stores_the_submission_with_few_statements(signup):
    from django.test.utils import CaptureQueriesContext

    public = services.public_form(signup.slug)
    with capture(execute=False):
        services.submit(public, post(GOOD))  # the first one also queues the processing job
        with CaptureQueriesContext(connection) as queries:
            outcome = services.submit(public, post({**GOOD, "e_mail": "b@example.com"}))
    assert outcome.ok and outcome.intake_key
    # the custom fields' version (to check the contact's values), whether the job is active;
    # embedded, the submission itself goes to the intake file, not to the main database
    assert len(queries) == (2 if connection.vendor == "sqlite" else 3), [q["sql"][:80] for q in queries]


def test_submissions_are_processed_in_batches_and_never_lost(signup, monkeypatch):
    from liaison.core import jobs

    monkeypatch.setattr(services, "PROCESS_BATCH", 3)
    from liaison.webforms import intake

    outcomes = [submit(signup, {**GOOD, "e_mail": f"p{i % 4}@example.com", "last_name": f"N{i}"}, process=False)
                for i in range(7)]
    assert intake.store().count() == 7 and not Submission.objects.exists() and not Contact.objects.exists()
    job = Job.objects.get(kind="webforms.process")  # one job for them all
    # a crash after storing a batch but before it left the intake: nothing is stored twice
    # (embedded: the intake is another file; PostgreSQL: the same transaction, all or nothing)
    def crash(self, ids):
        raise OSError("the worker was killed")

    store = type(intake.store())
    real_remove = store.remove
    store.remove = crash
    try:
        with capture(execute=False):
            assert jobs.run_job(job.pk).status == "failed"
    finally:
        store.remove = real_remove
    assert intake.store().count() == 7
    assert Submission.objects.count() == (3 if store is intake.FileIntake else 0)
    with capture(execute=True):
        jobs.run_job(jobs.enqueue("webforms.process", {"continued": True}, dispatch_now=False).pk)
    assert intake.store().count() == 0 and Submission.objects.count() == 7
    assert Contact.objects.count() == 4
    assert Contact.objects.get(email_key="p0@example.com").last_name == "N4"  # later values win
    assert Activity.objects.filter(kind="webforms.submitted").count() == 7
    signup.refresh_from_db()
    assert signup.submission_count == 7
    assert {o.submission.pk for o in outcomes} == set(Submission.objects.values_list("pk", flat=True))
    assert ActionRun.objects.count() == 0 and signup.views == 0


def test_a_long_stream_hands_over_to_a_new_job(signup, monkeypatch):
    from liaison.core import jobs

    monkeypatch.setattr(services, "PROCESS_BATCH", 1)
    monkeypatch.setattr(services, "PROCESS_BUDGET_SECONDS", -1)
    for i in range(2):
        submit(signup, {**GOOD, "e_mail": f"s{i}@example.com"}, process=False)
    with capture(execute=False):
        jobs.run_job(Job.objects.get(kind="webforms.process").pk)
    assert Submission.objects.count() == 1
    continued = Job.objects.get(kind="webforms.process", params={"continued": True})
    with capture(execute=False):
        result = jobs.run_job(continued.pk)
    assert result.status == "succeeded", result
    assert Submission.objects.count() == 2


def test_actions_run_in_bulk_for_a_batch_and_one_bad_item_fails_alone(signup, django_capture_on_commit_callbacks):
    from liaison.core import jobs

    with django_capture_on_commit_callbacks(execute=True):
        vip = segments.save_segment({"name": "VIP"})
    services.save_form({"fields": [*SIGNUP_FIELDS, {"label": "Phone", "key": "phone_answer"}], "actions": [
        {"key": "segments.add", "config": {"segment_id": vip.pk}},
        {"key": "contact.points", "config": {"points": 5}},
        {"key": "contact.update_field", "config": {"field": "phone", "value": "{phone_answer}"}},
    ]}, form=signup)
    for email, phone in (("a@example.com", "+33 1 23"), ("b@example.com", "call me"), ("a@example.com", "+33 9")):
        submit(signup, {**GOOD, "e_mail": email, "phone_answer": phone}, process=False)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.run_job(Job.objects.get(kind="webforms.process").pk)
    a, b = Contact.objects.get(email_key="a@example.com"), Contact.objects.get(email_key="b@example.com")
    assert (a.points, b.points) == (10, 5)  # a submitted twice: twice the points
    assert a.phone == "+33 9" and b.phone == ""
    runs = ActionRun.objects.order_by("submission_id", "order")
    messages = [(r.submission.contact.email, r.label, r.status, r.message) for r in runs]
    assert ("a@example.com", "Add to segment", "succeeded", "Added to “VIP”.") in messages
    assert ("a@example.com", "Add to segment", "succeeded", "Already in “VIP”.") in messages
    assert [m for m in messages if m[0] == "b@example.com" and m[1] == "Update contact field"] == [
        ("b@example.com", "Update contact field", "failed",
         "The value was refused: phone: Phone: 'call me' is not a valid phone number.")]
    assert Membership.objects.filter(segment=vip).count() == 2
    assert Activity.objects.filter(kind="webforms.action", contact=b).count() == 1

"""GoTo in forms: the upcoming-events fields, the actions (against the sandbox) and the save-time checks."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.http import QueryDict

from liaison.contacts.models import Activity, Contact
from liaison.core.errors import ValidationFailed
from liaison.emails.models import Send
from liaison.integrations.goto.models import AssistSession, Event, Registration
from liaison.webforms import services as forms
from liaison.webforms.models import ActionRun
from tests.factories import EmailFactory
from tests.integrations.goto.conftest import slot, sync

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

QUESTIONS = [{"question": "What is your role?", "type": "shortAnswer", "required": True},
             {"question": "Budget", "type": "multipleChoice", "required": False, "answers": ["Small", "Large"]}]


@pytest.fixture(autouse=True)
def _clean_intake(db):
    from liaison.webforms import intake

    intake.reset()
    forms._cache.clear()
    yield
    store = intake.store()
    store.remove([pk for pk, _ in store.take(100_000)])


@pytest.fixture
def events(account, sandbox):
    """Upcoming webinars (one asking questions and the organization), a training, a meeting; synced."""
    launch = sandbox.add_webinar("Launch", [slot(sandbox, days=4)], questions=QUESTIONS,
                                 fields=[{"field": "organization", "required": True}])[0]
    plain = sandbox.add_webinar("Plain talk", [slot(sandbox, days=6)])[0]
    course = sandbox.add_training("Course", [slot(sandbox, days=5, hours=2)])
    start, end = slot(sandbox, days=2)
    board = sandbox.add_meeting("Board", start, end)
    assert sync(account).status == "succeeded"
    return {"launch": str(launch.webinar_key), "plain": str(plain.webinar_key), "course": str(course.training_key),
            "board": str(board.meeting_id), "remote_launch": launch, "remote_plain": plain, "remote_course": course}


PEOPLE_FIELDS = [
    {"key": "email", "label": "E-mail", "type": "email", "required": True, "contact_field": "email"},
    {"key": "first", "label": "First name", "type": "text", "required": True, "contact_field": "first_name"},
    {"key": "last", "label": "Last name", "type": "text", "required": True, "contact_field": "last_name"},
]


def webinar_form(name="Webinar sign-up", *, select=True, required=True, multiple=False, config=None, fields=()):
    chosen = [{"key": "webinar", "label": "Webinar", "type": "goto.webinar.upcoming", "required": required,
               "config": {"multiple": multiple}}] if select else []
    return forms.save_form({"name": name, "fields": [*PEOPLE_FIELDS, *chosen, *fields],
                            "actions": [{"key": "goto.webinar.register", "config": config or {}}]})


def post(data: dict) -> QueryDict:
    q = QueryDict(mutable=True)
    for key, value in data.items():
        q.setlist(key, value if isinstance(value, list) else [value])
    return q


def submit(form, data, capture):
    with capture(execute=True):
        outcome = forms.submit(forms.public_form(form.slug), post(data), forms.Visitor(ip="10.1.1.1"))
    return outcome


def run_of(outcome, key: str) -> ActionRun:
    return outcome.submission.action_runs.get(key=key)


def failed_in_words(outcome, words: str) -> None:
    """The registration failed, with GoTo's words on the submission and on the contact's timeline."""
    run = run_of(outcome, "goto.webinar.register")
    assert run.status == "failed" and words in run.message
    entry = Activity.objects.get(kind="webforms.action", title="Register to webinar: failed")
    assert words in entry.data["summary"]


# -- the field ------------------------------------------------------------------------------------------------

def test_the_upcoming_field_is_drawn_from_local_events_without_calling_goto(client, sandbox, events):
    form = webinar_form(multiple=True)
    calls = sandbox.calls.total
    page = client.get(f"/f/{form.slug}/").content.decode()
    assert sandbox.calls.total == calls  # no API call while drawing
    assert f'value="{events["launch"]}"' in page and f'value="{events["plain"]}"' in page
    assert 'name="webinar" id="id_webinar"' in page or 'name="webinar"' in page
    assert "multiple" in page.split('name="webinar"')[1].split(">")[0]
    launch = Event.objects.get(provider_key=events["launch"])
    assert "Launch — " in page and launch.time_zone  # the date, in the webinar's own time zone
    past = Event.objects.filter(product="webinar", status="past").first()
    assert past is not None and f'value="{past.provider_key}"' not in page
    # A webinar the next sync brings shows without editing the form (the drawn page is not stale).
    newer = sandbox.add_webinar("Newer", [slot(sandbox, days=9)])[0]
    sync(Event.objects.get(provider_key=events["launch"]).integration, product="webinar")
    assert f'value="{newer.webinar_key}"' in client.get(f"/f/{form.slug}/").content.decode()
    assert sandbox.calls.total > calls


def test_a_choice_no_longer_upcoming_is_refused_per_product(events, django_capture_on_commit_callbacks):
    form = webinar_form()
    Event.objects.filter(provider_key=events["launch"]).update(status="cancelled")
    outcome = submit(form, {"email": "ann@people.test", "first": "Ann", "last": "Lee", "webinar": events["launch"]},
                     django_capture_on_commit_callbacks)
    assert outcome.errors == {"webinar": ["This webinar is no longer available: “Launch”."]}
    outcome = submit(form, {"email": "ann@people.test", "first": "Ann", "last": "Lee", "webinar": "42"},
                     django_capture_on_commit_callbacks)
    assert outcome.errors == {"webinar": ["This webinar is no longer available."]}
    training = forms.save_form({"name": "Course sign-up", "fields": [
        *PEOPLE_FIELDS, {"key": "course", "label": "Course", "type": "goto.training.upcoming", "required": True}],
        "actions": [{"key": "goto.training.register", "config": {}}]})
    Event.objects.filter(provider_key=events["course"]).update(starts_at=Event.objects.get(
        provider_key=events["course"]).starts_at - timedelta(days=30))
    outcome = submit(training, {"email": "a@people.test", "first": "A", "last": "B", "course": events["course"]},
                     django_capture_on_commit_callbacks)
    assert outcome.errors == {"course": ["This training is no longer available: “Course”."]}
    assert not Contact.objects.filter(email_key__endswith="@people.test").exists()  # bad input changes nothing


# -- registering ---------------------------------------------------------------------------------------------------

def test_the_visitor_registers_for_the_chosen_webinars(sandbox, events, admin_client,
                                                       django_capture_on_commit_callbacks):
    form = webinar_form(multiple=True)
    outcome = submit(form, {"email": "Bea@People.test", "first": "Bea", "last": "Kay",
                            "webinar": [events["plain"], events["launch"]]}, django_capture_on_commit_callbacks)
    run = run_of(outcome, "goto.webinar.register")
    assert run.status == "succeeded"
    for name in ("remote_plain", "remote_launch"):  # (without mapped extras, GoTo asks only for the names)
        assert "bea@people.test" in events[name].by_email
    registration = Registration.objects.get(event__provider_key=events["plain"])
    assert registration.source == "form" and registration.join_url
    assert f"Registered Bea@People.test for “Plain talk”. Join link: {registration.join_url}" in run.message
    assert "for “Launch”" in run.message and len(run.data["registrations"]) == 2
    contact = Contact.objects.get(email_key="bea@people.test")
    assert Activity.objects.filter(contact=contact, kind="goto.webinar.registered",
                                   data__join_url=registration.join_url).exists()
    done = Activity.objects.get(contact=contact, kind="webforms.action", title="Register to webinar: done")
    assert registration.join_url in done.data["summary"]
    page = admin_client.get(f"/contacts/{contact.pk}/").content.decode()  # the timeline, in words
    assert "Registered for a webinar" in page and "Registered for “Plain talk”" in page
    assert f'Join URL: <a href="{registration.join_url}"' in page and "GoToWebinar · key " in page
    assert "from a form" in page and "Register to webinar: done" in page


def test_a_required_registration_field_left_unmapped_is_goto_s_refusal_in_words(
        sandbox, events, django_capture_on_commit_callbacks):
    extra = [{"key": "role", "label": "Your role", "type": "text", "required": True}]
    form = webinar_form(select=False, fields=extra, config={"event": events["launch"],
                                                            "extra_fields": "What is your role?=role"})
    outcome = submit(form, {"email": "cal@people.test", "first": "Cal", "last": "Em", "role": "Chef"},
                     django_capture_on_commit_callbacks)
    failed_in_words(outcome, "The registration field 'organization' is required for this webinar.")


def test_goto_s_refusal_reaches_the_submission_and_the_timeline_in_words(sandbox, events,
                                                                         django_capture_on_commit_callbacks):
    form = webinar_form()
    sandbox.scripted.fail(400, {"errorCode": "InvalidRequest", "description": "Registration is closed for this "
                                "webinar by the organizer.", "incident": 8123},
                          when=lambda method, path: method == "POST" and path.endswith("/registrants"))
    outcome = submit(form, {"email": "cy@people.test", "first": "Cy", "last": "Dee", "webinar": events["plain"]},
                     django_capture_on_commit_callbacks)
    failed_in_words(outcome, "Registration is closed for this webinar by the organizer.")
    assert not Registration.objects.filter(event__provider_key=events["plain"], email_key="cy@people.test").exists()


def test_a_transient_goto_failure_is_retried(sandbox, events, django_capture_on_commit_callbacks):
    form = webinar_form()
    sandbox.scripted.fail(503, {"errorCode": "ServiceUnavailable", "description": "Down", "incident": 1}, times=50,
                          when=lambda method, path: method == "POST" and path.endswith("/registrants"))
    outcome = submit(form, {"email": "dee@people.test", "first": "Dee", "last": "Ell", "webinar": events["plain"]},
                     django_capture_on_commit_callbacks)
    run = run_of(outcome, "goto.webinar.register")
    assert run.status == "retrying" and "Plain talk" in run.message


def test_a_duplicate_registrant_counts_as_registered_with_its_join_link(sandbox, events,
                                                                          django_capture_on_commit_callbacks):
    sandbox.add_registrant(int(events["plain"]), "eve@people.test", "Eve", "Em")  # registered on GoTo's page
    form = webinar_form()
    outcome = submit(form, {"email": "eve@people.test", "first": "Eve", "last": "Em", "webinar": events["plain"]},
                     django_capture_on_commit_callbacks)
    run = run_of(outcome, "goto.webinar.register")
    registration = Registration.objects.get(event__provider_key=events["plain"], email_key="eve@people.test")
    assert run.status == "succeeded" and registration.join_url
    assert run.message == (f"eve@people.test was already registered for “Plain talk”; the existing registration is "
                           f"kept. Join link: {registration.join_url}")


def test_the_field_mapping_is_really_used(sandbox, events, django_capture_on_commit_callbacks):
    extra = [{"key": "guest_email", "label": "Guest e-mail", "type": "email", "required": True},
             {"key": "guest_first", "label": "Guest first name", "type": "text", "required": True},
             {"key": "guest_last", "label": "Guest last name", "type": "text", "required": True}]
    form = webinar_form(select=False, fields=extra, config={
        "event": events["plain"], "email_field": "guest_email", "first_name_field": "guest_first",
        "last_name_field": "guest_last"})
    outcome = submit(form, {"email": "boss@people.test", "first": "Bo", "last": "Ss", "guest_email": "gil@people.test",
                            "guest_first": "Gil", "guest_last": "Guest"}, django_capture_on_commit_callbacks)
    assert run_of(outcome, "goto.webinar.register").status == "succeeded"
    registrant = events["remote_plain"].registrants[events["remote_plain"].by_email["gil@people.test"]]
    assert (registrant.first_name, registrant.last_name) == ("Gil", "Guest")  # not the submitter's names
    assert "boss@people.test" not in events["remote_plain"].by_email
    guest = Contact.objects.get(email_key="gil@people.test")
    assert Registration.objects.get(event__provider_key=events["plain"]).contact == guest


def test_extra_registrant_fields_and_custom_questions(sandbox, events, django_capture_on_commit_callbacks):
    extra = [{"key": "company", "label": "Company", "type": "text", "required": True},
             {"key": "role", "label": "Your role", "type": "text", "required": True},
             {"key": "budget", "label": "Budget", "type": "select", "options": "small|Small\nlarge|Large"}]
    form = webinar_form(select=False, fields=extra, config={
        "event": events["launch"],
        "extra_fields": "organization=company; What is your role?=role; budget=budget"})
    calls = sandbox.calls.count(path_prefix="/G2W/rest/v2/organizers", method="GET")
    outcome = submit(form, {"email": "fox@people.test", "first": "Fox", "last": "Trot", "company": "Acme",
                            "role": "Buyer", "budget": "large"}, django_capture_on_commit_callbacks)
    run = run_of(outcome, "goto.webinar.register")
    assert run.status == "succeeded", run.message
    remote = events["remote_launch"]
    registrant = remote.registrants[remote.by_email["fox@people.test"]]
    assert registrant.details == {"organization": "Acme"}
    assert registrant.responses == [{"question": "What is your role?", "answer": "Buyer"},
                                    {"question": "Budget", "answer": "Large"}]
    # The webinar's questions are read once and kept: a second registration does not ask again.
    outcome = submit(form, {"email": "gus@people.test", "first": "Gus", "last": "Go", "company": "Acme",
                            "role": "Chef", "budget": "small"}, django_capture_on_commit_callbacks)
    assert run_of(outcome, "goto.webinar.register").status == "succeeded"
    fields_reads = [e for e in sandbox.calls.entries() if e.path.endswith("/registrants/fields")]
    assert len(fields_reads) == 1
    assert sandbox.calls.count(path_prefix="/G2W/rest/v2/organizers", method="GET") - calls >= 1


def test_a_fixed_training_registration(sandbox, events, django_capture_on_commit_callbacks):
    form = forms.save_form({"name": "Course", "fields": PEOPLE_FIELDS, "actions": [
        {"key": "goto.training.register", "config": {"event": events["course"]}}]})
    outcome = submit(form, {"email": "hal@people.test", "first": "Hal", "last": "Lo"},
                     django_capture_on_commit_callbacks)
    run = run_of(outcome, "goto.training.register")
    assert run.status == "succeeded" and "Registered hal@people.test for “Course”" in run.message
    assert Registration.objects.get(event__provider_key=events["course"]).join_url


# -- start links and support sessions -------------------------------------------------------------------------------

def test_send_the_meeting_start_link(sandbox, events, smtp_server, django_capture_on_commit_callbacks):
    email = EmailFactory(name="Your start link", subject="Start {contactfield=first_name}",
                         html="<p>Hello</p><p>{meeting_button}</p>")
    form = forms.save_form({"name": "Hosts", "fields": [
        PEOPLE_FIELDS[0], {"key": "meeting", "label": "Meeting", "type": "goto.meeting.upcoming", "required": True}],
        "actions": [{"key": "goto.meeting.start_link", "config": {"email_id": email.pk}}]})
    outcome = submit(form, {"email": "host@people.test", "meeting": events["board"]},
                     django_capture_on_commit_callbacks)
    run = run_of(outcome, "goto.meeting.start_link")
    assert run.status == "succeeded", run.message
    assert run.message == "Start link of “Board” e-mailed to host@people.test with “Your start link”."
    send = Send.objects.get(email=email)
    url = send.context["goto"]["start_url"]
    assert send.context["goto"]["event"] == events["board"] and url.startswith("http")
    message, = smtp_server.to("host@people.test")
    assert f'href="{url}"' in message.html and 'class="citrix-start-button"' in message.html
    assert "Start the meeting" in message.html


def test_send_the_training_start_link_needs_the_token(sandbox, events, smtp_server,
                                                      django_capture_on_commit_callbacks):
    without = EmailFactory(name="No button", html="<p>Hi</p>")
    with pytest.raises(ValidationFailed) as info:
        forms.save_form({"name": "Trainers", "fields": [PEOPLE_FIELDS[0]], "actions": [
            {"key": "goto.training.start_link", "config": {"event": events["course"], "email_id": without.pk}}]})
    no_link = ("Send GoToTraining start link: “No button” does not contain {training_button}, so the link would not "
               "be in the message.")
    assert info.value.errors["actions.0"] == [no_link]
    email = EmailFactory(name="Trainer link", html="<p>{training_button}</p>")
    form = forms.save_form({"name": "Trainers", "fields": [PEOPLE_FIELDS[0]], "actions": [
        {"key": "goto.training.start_link", "config": {"event": events["course"], "email_id": email.pk}}]})
    outcome = submit(form, {"email": "trainer@people.test"}, django_capture_on_commit_callbacks)
    assert run_of(outcome, "goto.training.start_link").status == "succeeded"
    message, = smtp_server.to("trainer@people.test")
    assert "Start the training" in message.html and "citrix-start-button" in message.html


def test_request_a_support_session(sandbox, account, smtp_server, django_capture_on_commit_callbacks):
    email = EmailFactory(name="Support", html="<p>Click: {assist_button}</p>")
    form = forms.save_form({"name": "Help", "fields": PEOPLE_FIELDS, "actions": [
        {"key": "goto.assist.request", "config": {"email_id": email.pk}}]})
    outcome = submit(form, {"email": "iva@people.test", "first": "Iva", "last": "Help"},
                     django_capture_on_commit_callbacks)
    run = run_of(outcome, "goto.assist.request")
    assert run.status == "succeeded", run.message
    session = AssistSession.objects.get(session_id=run.data["session_id"])
    assert session.contact.email_key == "iva@people.test" and session.customer_name == "Iva Help"
    remote = sandbox.state.assist_sessions[session.session_id]
    assert remote.customer_email == "iva@people.test"
    message, = smtp_server.to("iva@people.test")
    assert f'href="{session.customer_join_url}"' in message.html and "Join the support session" in message.html


# -- save-time checks ------------------------------------------------------------------------------------------------

def errors_of(data) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as info:
        forms.save_form(data)
    return info.value.errors


def test_mautic_s_save_time_rules_with_clear_messages(events):
    register = [{"key": "goto.webinar.register", "config": {}}]
    assert errors_of({"name": "x", "fields": [PEOPLE_FIELDS[0], PEOPLE_FIELDS[1]], "actions": register}) == {"__all__": [
        "No field matches the contact field “Last name”. Please add one through the Fields section.",
        "The required field “Upcoming webinars” is missing. Please add it through the Fields section."]}
    optional_last = {**PEOPLE_FIELDS[2], "required": False}
    select = {"key": "webinar", "label": "Webinar", "type": "goto.webinar.upcoming"}
    assert errors_of({"name": "x", "fields": [PEOPLE_FIELDS[0], PEOPLE_FIELDS[1], optional_last, select],
                      "actions": register}) == {
        "fields.2": ["The field “Last name” should be set as required. Tick “Required” on the field."],
        "fields.3": ["The field “Webinar” should be set as required. Tick “Required” on the field."]}
    assert errors_of({"name": "x", "fields": PEOPLE_FIELDS, "actions": [
        {"key": "goto.webinar.register", "config": {"first_name_field": "nickname"}}]})["actions.0"] == [
        "Register to webinar: the form has no field “nickname” for the First name."]
    assert errors_of({"name": "x", "fields": PEOPLE_FIELDS, "actions": [
        {"key": "goto.webinar.register", "config": {"event": "404404"}}]})["actions.0"] == [
        "Register to webinar: there is no webinar 404404 (is GoTo synchronised?)."]
    unreadable = ("Register to webinar: write other fields as “GoTo field = form field key” separated by “;” "
                  "(could not read: “organization”).")
    assert errors_of({"name": "x", "fields": PEOPLE_FIELDS, "actions": [
        {"key": "goto.webinar.register", "config": {"event": events["plain"], "extra_fields": "organization"}}]}
    )["actions.0"] == [unreadable]
    segment_email = EmailFactory(name="Broadcast", kind="segment", html="{meeting_button} {unsubscribe_url}")
    assert errors_of({"name": "x", "fields": [PEOPLE_FIELDS[0]], "actions": [
        {"key": "goto.meeting.start_link", "config": {"email_id": segment_email.pk}}]}) == {
        "actions.0": ["Send GoToMeeting start link: “Broadcast” is a segment e-mail; choose a template e-mail."]}
    email = EmailFactory(html="{meeting_button}")
    assert errors_of({"name": "x", "fields": [PEOPLE_FIELDS[0]], "actions": [
        {"key": "goto.meeting.start_link", "config": {"email_id": email.pk}}]}) == {"__all__": [
            "The required field “Upcoming meetings” is missing. Please add it through the Fields section."]}
    assist = EmailFactory(html="{assist_button}")
    assert errors_of({"name": "x", "fields": [PEOPLE_FIELDS[0]], "actions": [
        {"key": "goto.assist.request", "config": {"email_id": assist.pk}}]}) == {"__all__": [
            "No field matches the contact field “First name”. Please add one through the Fields section.",
            "No field matches the contact field “Last name”. Please add one through the Fields section."]}
    # A fixed event needs no select; everything mapped and required: saved.
    assert forms.save_form({"name": "ok", "fields": PEOPLE_FIELDS, "actions": [
        {"key": "goto.webinar.register", "config": {"event": events["plain"]}}]}).pk


# -- UI and API ---------------------------------------------------------------------------------------------------

def test_the_builder_offers_the_goto_field_and_actions_with_their_choices(admin_client, events):
    posted = {"name": "B", "fields-n": "3", "actions-n": "0", "op": "add-action:goto.webinar.register"}
    for i, f in enumerate(PEOPLE_FIELDS):
        posted.update({f"fields-{i}-key": f["key"], f"fields-{i}-label": f["label"], f"fields-{i}-type": f["type"],
                       f"fields-{i}-contact_field": f["contact_field"], f"fields-{i}-required": "1"})
    page = admin_client.post("/forms/builder/", posted).content.decode()
    assert "Upcoming webinars" in page  # the field palette
    assert "Register to webinar" in page and "Visitor selects (the form" in page
    assert f'value="{events["launch"]}"' in page  # fixed-webinar choices, from the local table
    assert 'value="first">First name (first)' in page  # the mapping offers the form's own fields
    assert "Other registrant fields and questions" in page


def test_the_api_lists_and_saves_goto_fields_and_actions(api, marketer, events):
    c = api(marketer)
    types = {t["key"]: t for t in json.loads(c.get("/api/forms/field-types").content)}
    assert {"goto.webinar.upcoming", "goto.training.upcoming", "goto.meeting.upcoming"} <= set(types)
    actions = {a["key"] for a in json.loads(c.get("/api/forms/action-types").content)}
    assert {"goto.webinar.register", "goto.training.register", "goto.meeting.start_link",
            "goto.training.start_link", "goto.assist.request"} <= actions
    payload = {"name": "Via API", "fields": [*PEOPLE_FIELDS, {"key": "webinar", "label": "Webinar",
                                                              "type": "goto.webinar.upcoming", "required": True}],
               "actions": [{"key": "goto.webinar.register", "config": {}}]}
    response = c.post("/api/forms", payload, content_type="application/json")
    assert response.status_code == 201, response.content
    bad = {**payload, "name": "Bad", "fields": PEOPLE_FIELDS}
    response = c.post("/api/forms", bad, content_type="application/json")
    assert response.status_code == 422
    assert json.loads(response.content)["errors"]["__all__"] == [
        "The required field “Upcoming webinars” is missing. Please add it through the Fields section."]

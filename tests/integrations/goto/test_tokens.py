"""GoTo e-mail tokens: which registration a link comes from, buttons, never past / cancelled / empty
links, never click-tracked, one query per token kind for a batch; and real sends over SMTP."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from liaison.contacts.models import Contact
from liaison.core.errors import ValidationFailed
from liaison.emails import services as emails
from liaison.emails.models import Send
from liaison.emails.rendering import Renderer
from liaison.integrations.goto import services, support
from liaison.integrations.goto.models import AssistSession, Event, Registration
from tests.factories import EmailFactory
from tests.integrations.goto.conftest import slot, sync

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
HOUR = timedelta(hours=1)


@pytest.fixture
def world(account, sandbox):
    """ann: W1 (in 3 days) and W2 (in 6 days); bob: a past webinar only; cy: W1, cancelled;
    dee: waiting for approval on W3; ed: the training; nobody: nothing."""
    now = sandbox.now().replace(second=0, microsecond=0)
    w1 = sandbox.add_webinar("First", [slot(sandbox, days=3)])[0]
    w2 = sandbox.add_webinar("Second", [slot(sandbox, days=6)])[0]
    w3 = sandbox.add_webinar("Approved only", [slot(sandbox, days=4)], approval_type="MANUAL")[0]
    past = sandbox.add_webinar("Yesterday", [(now - 26 * HOUR, now - 25 * HOUR)])[0]
    course = sandbox.add_training("Course", [slot(sandbox, days=5)])
    for webinar, name in ((w1, "ann"), (w2, "ann"), (w1, "cy"), (past, "bob")):
        sandbox.add_registrant(webinar.webinar_key, f"{name}@people.test", name.title(), "Tester",
                               registration_date=now - 30 * HOUR)
    sandbox.add_registrant(w3.webinar_key, "dee@people.test", "Dee", "Tester", status="WAITING")
    sandbox.add_training_registrant(course.training_key, "ed@people.test", "Ed", "Tester")
    start, end = slot(sandbox, days=1)
    meeting = sandbox.add_meeting("Stand-up", start, end)
    assert sync(account).status == "succeeded"
    Contact.objects.create(email="nobody@people.test", email_key="nobody@people.test", first_name="No")
    services.cancel_registration(Registration.objects.get(email_key="cy@people.test"))
    keys = {"w1": str(w1.webinar_key), "w2": str(w2.webinar_key), "w3": str(w3.webinar_key),
            "past": str(past.webinar_key), "course": str(course.training_key), "meeting": str(meeting.meeting_id)}
    return keys


def person(name: str) -> Contact:
    return Contact.objects.get(email_key=f"{name}@people.test")


def join_url(key: str, name: str) -> str:
    return Registration.objects.get(event__provider_key=key, email_key=f"{name}@people.test").join_url


def render(html: str, names, *, context=None, mode="send"):
    email = EmailFactory(html=html)
    people = [person(n) for n in names]
    renderer = Renderer(email, people, mode=mode)
    out = {}
    for contact in people:
        send = Send.objects.create(email=email, contact=contact, to_email=contact.email, context=context or {}) \
            if mode == "send" else None
        out[contact.email.split("@")[0]] = renderer.render(contact, send)
    return out


def test_without_a_key_the_next_upcoming_registration_never_a_past_or_cancelled_one(world):
    out = render('<a href="{webinar_link}">Join</a> <a href="https://example.com/agenda">Agenda</a>',
                 ["ann", "bob", "cy", "dee", "nobody"])
    assert f'href="{join_url(world["w1"], "ann")}"' in out["ann"].html  # the sooner of W1 and W2
    assert out["ann"].links == ["https://example.com/agenda"]  # the join link is never tracked
    assert "/t/c/" in out["ann"].html and not out["ann"].skip_reason
    assert out["bob"].skip_reason == "{webinar_link}: no registration to an upcoming webinar"  # past: ignored
    assert out["cy"].skip_reason == "{webinar_link}: no registration to an upcoming webinar"  # cancelled: ignored
    assert out["dee"].skip_reason == "{webinar_link}: no registration to an upcoming webinar"
    assert out["nobody"].skip_reason == "{webinar_link}: no registration to an upcoming webinar"


def test_a_key_names_the_webinar_and_says_why_not(world):
    k = world
    out = render(f'<a href="{{webinar_link={k["w2"]}}}">Join</a>', ["ann", "nobody"])
    assert f'href="{join_url(k["w2"], "ann")}"' in out["ann"].html
    assert out["nobody"].skip_reason == f"{{webinar_link={k['w2']}}}: not registered for the webinar {k['w2']}"
    assert render(f"{{webinar_link={k['past']}}}", ["bob"])["bob"].skip_reason == \
        f"{{webinar_link={k['past']}}}: the webinar “Yesterday” is over"
    assert render(f"{{webinar_link={k['w1']}}}", ["cy"])["cy"].skip_reason == \
        f"{{webinar_link={k['w1']}}}: the registration for “First” was cancelled"
    assert render(f"{{webinar_link={k['w3']}}}", ["dee"])["dee"].skip_reason == \
        f"{{webinar_link={k['w3']}}}: the registration for “Approved only” is waiting for the organizer's approval"
    Event.objects.filter(provider_key=k["w2"]).update(status="cancelled")
    assert render(f"{{webinar_button={k['w2']}}}", ["ann"])["ann"].skip_reason == \
        f"{{webinar_button={k['w2']}}}: the webinar “Second” was cancelled"


def test_the_campaign_step_s_webinar_comes_from_the_send_s_context(world):
    context = services.event_context(Event.objects.filter(provider_key=world["w2"]).first())
    assert context == {"goto": {"product": "webinar", "event": world["w2"]}}
    out = render("{webinar_button}", ["ann", "cy"], context=context)
    url = join_url(world["w2"], "ann")
    assert f'href="{url}"' in out["ann"].html and out["ann"].links == []
    assert out["cy"].skip_reason == f"{{webinar_button}}: not registered for the webinar {world['w2']}"


def test_the_button_keeps_its_look_and_the_text_part_its_link(world):
    out = render("<p>{webinar_button}</p>", ["ann"])["ann"]
    url = join_url(world["w1"], "ann")
    assert 'class="citrix-start-button"' in out.html and "data-personal" in out.html
    assert "background:#4e5e9e" in out.html and "color:#ffffff" in out.html  # inline: clients drop style sheets
    assert f'href="{url}"' in out.html and ">Join the webinar</a>" in out.html
    assert f"Join the webinar: {url}" in out.text


def test_a_batch_costs_one_query_per_token_kind(world, django_assert_num_queries):
    html = f"{{webinar_link}} {{webinar_button}} {{webinar_link={world['w2']}}} {{training_button}} {{assist_button}}"
    email = EmailFactory(subject="News", html=html + " {meeting_button}")
    people = [person(n) for n in ("ann", "bob", "cy", "dee", "ed", "nobody")]
    with django_assert_num_queries(4):  # webinar_link, webinar_button, training_button, assist_button
        renderer = Renderer(email, people, mode="send")
    with django_assert_num_queries(0):
        outs = [renderer.render(c, None) for c in people]
    assert outs[0].skip_reason.startswith("{training_button}")  # ann has no training
    assert not outs[4].skip_reason.startswith("{training_button}")  # ed has one


def test_training_meeting_and_assist_buttons(world, account, sandbox):
    out = render("{training_button}", ["ed", "ann"])
    assert f'href="{join_url(world["course"], "ed")}"' in out["ed"].html and "Join the training" in out["ed"].html
    assert out["ann"].skip_reason == "{training_button}: no registration to an upcoming training"
    started = render("{training_button}", ["ann"], context={"goto": {"product": "training", "event": world["course"],
                                                                     "start_url": "https://gototraining.test/s/1"}})
    assert 'href="https://gototraining.test/s/1"' in started["ann"].html and "Start the training" in \
        started["ann"].html
    assert render("{meeting_button}", ["ann"])["ann"].skip_reason.startswith(
        "{meeting_button}: no GoToMeeting start link in this send")
    out = render("{meeting_button}", ["ann"], context={"goto": {"product": "meeting", "event": world["meeting"],
                                                                "start_url": "https://meet.test/start/1"}})["ann"]
    assert 'href="https://meet.test/start/1"' in out.html and "Start the meeting" in out.html and out.links == []
    assert render("{assist_button}", ["ann"])["ann"].skip_reason == \
        "{assist_button}: no open GoToAssist support session for this contact"
    session = services.create_assist_session(account, contact=person("ann"))
    out = render("{assist_button}", ["ann"])["ann"]
    assert f'href="{session.customer_join_url}"' in out.html and "Join the support session" in out.html
    out = render("{assist_button}", ["bob"], context={support.JOIN_URL_CONTEXT: "https://assist.test/j/9"})["bob"]
    assert 'href="https://assist.test/j/9"' in out.html
    assert AssistSession.objects.count() >= 1


def test_previews_show_a_sample_and_say_why(world):
    out = render("{webinar_button}", ["nobody", "ann"], mode="preview")
    assert "global.gotowebinar.com/join/preview" in out["nobody"].html and not out["nobody"].skip_reason
    assert "no registration to an upcoming webinar" in out["nobody"].notes[0]
    assert join_url(world["w1"], "ann") in out["ann"].html  # a real contact's real link


def test_keys_are_checked_when_the_e_mail_is_saved_and_offered_by_the_editor(world, api, marketer):
    with pytest.raises(ValidationFailed) as info:
        emails.save_email({"name": "n", "subject": "s", "html": "{webinar_link=999} {training_button=12}"})
    assert info.value.errors == {"html": [
        "{webinar_link=999}: there is no GoToWebinar event 999 (is GoTo synchronised?).",
        "{training_button=12}: there is no GoToTraining event 12 (is GoTo synchronised?)."]}
    assert emails.save_email({"name": "n", "subject": "s", "html": f"{{webinar_button={world['w1']}}}"}).pk
    tokens = {t["key"]: t for t in json.loads(api(marketer).get("/api/emails/tokens").content)}
    assert {"webinar_link", "webinar_button", "training_button", "meeting_button", "assist_button"} <= set(tokens)
    from liaison.core.contributions import EmailToken
    from liaison.core.registry import registry

    choices = dict(registry.get(EmailToken, "webinar_link").choices())
    assert world["w1"] in choices and world["past"] not in choices


def test_a_template_e_mail_with_webinar_link_to_three_registered_contacts_over_smtp(
        world, account, sandbox, smtp_server, run_on_commit):
    """Each message holds its contact's own link, untouched by click tracking (Mautic #11569)."""
    for name in ("fay", "gil"):
        sandbox.add_registrant(int(world["w1"]), f"{name}@people.test", name.title(), "Tester")
    sync(account, product="webinar", id=world["w1"])
    email = EmailFactory(name="Reminder", html='<p>Hi {contactfield=first_name}, <a href="{webinar_link}">join '
                                               'here</a>. <a href="https://example.com/agenda">Agenda</a></p>'
                                               '<p><a href="{unsubscribe_url}">Unsubscribe</a></p>')
    with run_on_commit():
        for name in ("ann", "fay", "gil"):
            emails.send_email(email, person(name), dedupe_key=f"reminder:{name}")
    assert len(smtp_server.messages) == 3
    links = set()
    for name in ("ann", "fay", "gil"):
        message, = smtp_server.to(f"{name}@people.test")
        own = join_url(world["w1"], name)
        assert f'href="{own}"' in message.html and own in message.text
        assert "/t/c/" in message.html  # click tracking is on: the agenda link is tracked
        others = {join_url(world["w1"], n) for n in ("ann", "fay", "gil")} - {own}
        assert not any(other in message.html for other in others)
        links.add(own)
    assert len(links) == 3
    assert all(s.status == "sent" for s in Send.objects.filter(email=email))


def test_a_send_without_a_link_is_skipped_with_the_reason(world, smtp_server, run_on_commit):
    email = EmailFactory(html='<a href="{webinar_link}">Join</a>')
    with run_on_commit():
        send = emails.send_email(email, person("bob"))
    send.refresh_from_db()
    assert send.status == "skipped" and send.reason == "{webinar_link}: no registration to an upcoming webinar"
    assert smtp_server.messages == []

"""The points pages: rules and triggers lists, forms with messages next to fields, the action
builder, the firing log; and the ``liaison points`` command."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from liaison.contacts import services as contacts
from liaison.points import services
from liaison.points.models import PointRule, PointTrigger, TriggerFiring
from tests.factories import ContactFactory
from tests.points.conftest import push

pytestmark = pytest.mark.django_db

RULE = {"name": "Right wave", "event": "tests.waved", "subjects": ["right"], "points": "5", "active": "1"}
TRIGGER = {"name": "Hot lead", "threshold": "20", "active": "1", "actions-n": "1", "actions-0-key": "example.push",
           "actions-0-c-crm_list": "vip"}


def test_the_points_pages_render_and_are_in_the_navigation(admin_client):
    r = services.save_rule({"name": "Waving", "event": "tests.waved", "points": 2})
    t = services.save_trigger({"name": "Hot", "threshold": 10, "actions": [push()]})
    home = admin_client.get("/points/").content.decode()
    assert 'href="/points/"' in home and "Waving" in home and "+2 when waves" in home
    for path in ("/points/rules/new/", f"/points/rules/{r.pk}/", f"/points/rules/{r.pk}/edit/", "/points/triggers/",
                 "/points/triggers/new/", f"/points/triggers/{t.pk}/", f"/points/triggers/{t.pk}/edit/"):
        assert admin_client.get(path).status_code == 200, path


def test_create_a_rule_limited_to_a_subject(marketer_client):
    page = marketer_client.get("/points/rules/new/").content.decode()
    assert "Tests · Waves" in page and "E-mails · Opens an e-mail" in page
    subjects = marketer_client.get("/points/rules/subjects/", {"event": "tests.waved"}).content.decode()
    assert "Left hand" in subjects and 'name="subjects"' in subjects
    whole = marketer_client.get("/points/rules/subjects/", {"event": "tests.nodded"}).content.decode()
    assert "scored as a whole" in whole
    response = marketer_client.post("/points/rules/new/", RULE)
    rule = PointRule.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/points/rules/{rule.pk}/"
    assert rule.subjects == ["right"] and rule.points == 5 and rule.active and not rule.once_per_contact
    detail = marketer_client.get(response["Location"]).content.decode()
    assert "+5 when waves (hand: Right hand)" in detail and "data-confirm" in detail


def test_rule_errors_are_shown_next_to_their_fields(marketer_client):
    response = marketer_client.post("/points/rules/new/", {**RULE, "name": "", "points": "0",
                                                           "subjects": ["foot"]})
    html = response.content.decode()
    assert response.status_code == 422 and not PointRule.objects.exists()
    assert "A rule needs a name." in html and "Give at least one point" in html and "Unknown hand: foot." in html
    name_field = html[html.index('id="id_name"'):html.index('id="id_points"')]
    assert "A rule needs a name." in name_field


def test_edit_and_delete_a_rule(marketer_client):
    rule = services.save_rule({"name": "Waving", "event": "tests.waved", "points": 2})
    marketer_client.post(f"/points/rules/{rule.pk}/edit/", {**RULE, "active": ""})
    rule.refresh_from_db()
    assert rule.name == "Right wave" and not rule.active
    assert marketer_client.get(f"/points/rules/{rule.pk}/delete/").status_code == 405
    assert marketer_client.post(f"/points/rules/{rule.pk}/delete/").status_code == 302
    assert not PointRule.objects.exists()


def test_the_action_builder_adds_moves_and_removes_actions(marketer_client):
    page = marketer_client.get("/points/triggers/new/").content.decode()
    assert '<optgroup label="Example">' in page and "Push to Example CRM" in page
    added = marketer_client.post("/points/triggers/actions/", {"actions-n": "0", "op": "add:example.push"})
    html = added.content.decode()
    assert 'name="actions-0-key" value="example.push"' in html and 'name="actions-0-c-crm_list"' in html
    assert "VIP list" in html  # the action's own choices for its setting
    two = marketer_client.post("/points/triggers/actions/", {**TRIGGER, "op": "add:example.push"}).content.decode()
    assert 'name="actions-n" value="2"' in two
    moved = marketer_client.post("/points/triggers/actions/", {
        **TRIGGER, "actions-n": "2", "actions-1-key": "example.push", "actions-1-c-crm_list": "newsletter",
        "op": "up:1"}).content.decode()
    assert moved.index('value="newsletter" selected') < moved.index('value="vip" selected')
    removed = marketer_client.post("/points/triggers/actions/", {**TRIGGER, "op": "remove:0"}).content.decode()
    assert 'name="actions-n" value="0"' in removed


def test_create_a_trigger_and_read_its_firing_log(marketer_client, run_on_commit, crm):
    ann = ContactFactory(email="ann@example.com")
    with run_on_commit():
        response = marketer_client.post("/points/triggers/new/", {
            **TRIGGER, "actions-0-c-refuse": "ann@example.com"})
    trigger = PointTrigger.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/points/triggers/{trigger.pk}/"
    assert trigger.actions == [push("vip", refuse=["ann@example.com"])]
    with run_on_commit():
        contacts.adjust_points([ann.pk], 25)
    log = marketer_client.get(response["Location"]).content.decode()
    assert "ann@example.com" in log and "Example CRM: Contact ann@example.com is locked." in log
    assert 'id="stat-failed">1<' in log
    assert "ann@example.com" in marketer_client.get(response["Location"], {"status": "failed"}).content.decode()
    assert "ann@example.com" not in marketer_client.get(response["Location"], {"status": "succeeded"}).content.decode()
    listing = marketer_client.get("/points/triggers/").content.decode()
    assert "Push to Example CRM (VIP list)" in listing


def test_trigger_errors_are_shown_next_to_the_action_setting(marketer_client):
    response = marketer_client.post("/points/triggers/new/", {**TRIGGER, "threshold": "0",
                                                              "actions-0-c-crm_list": "nope"})
    html = response.content.decode()
    assert response.status_code == 422 and not PointTrigger.objects.exists()
    assert "Enter a number between 1 and" in html
    action = html[html.index('id="actions-0"'):html.index("Add an action")]
    assert "There is no list “nope” in Example CRM." in action
    none = marketer_client.post("/points/triggers/new/", {**TRIGGER, "actions-n": "0"}).content.decode()
    assert "Add at least one action" in none


def test_edit_delete_and_evaluate_triggers(marketer_client, run_on_commit, crm):
    trigger = services.save_trigger({"name": "Hot", "threshold": 10, "actions": [push()]})
    ContactFactory(points=50)  # arrived without a points change (an import, say)
    marketer_client.post(f"/points/triggers/{trigger.pk}/edit/", {**TRIGGER, "active": ""})
    trigger.refresh_from_db()
    assert trigger.name == "Hot lead" and not trigger.active and trigger.threshold == 20
    PointTrigger.objects.filter(pk=trigger.pk).update(active=True)
    with run_on_commit():
        assert marketer_client.post("/points/triggers/evaluate/").status_code == 302
    assert TriggerFiring.objects.get().status == "succeeded"
    assert marketer_client.post(f"/points/triggers/{trigger.pk}/delete/").status_code == 302
    assert not PointTrigger.objects.exists() and not TriggerFiring.objects.exists()


def test_readers_see_points_but_cannot_change_them(client, reader):
    client.force_login(reader)
    assert client.get("/points/").status_code == 200
    assert "New rule" not in client.get("/points/").content.decode()
    assert client.post("/points/rules/new/", RULE).status_code == 403
    assert client.post("/points/triggers/new/", TRIGGER).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_cli_lists_and_runs_triggers(capsys, crm):
    ann = ContactFactory(email="ann@example.com", points=40)
    bob = ContactFactory(email="bob@example.com", points=40)
    services.save_rule({"name": "Waving", "event": "tests.waved", "points": 2})
    trigger = PointTrigger.objects.create(name="Hot lead", threshold=10, actions=[push(refuse=[bob.email])])
    call_command("points", "rules", "list")
    call_command("points", "triggers", "run")
    out = capsys.readouterr().out
    assert "Waving" in out and "2 contact(s) reached a trigger." in out
    assert "1 contact(s) done, 1 failed" in out and "bob@example.com" in out and "is locked" in out
    assert TriggerFiring.objects.get(contact=ann).status == "succeeded"
    call_command("points", "triggers", "list")
    assert "Hot lead" in capsys.readouterr().out
    call_command("points", "triggers", "run", "--trigger", str(trigger.pk))
    assert "0 contact(s) reached a trigger." in capsys.readouterr().out
    with pytest.raises(CommandError, match="no trigger #999"):
        call_command("points", "triggers", "run", "--trigger", "999")


def test_the_contact_page_shows_awards_triggers_reached_and_the_next_one(marketer_client, run_on_commit, crm):
    from tests.points.conftest import event

    ann = ContactFactory()
    services.save_rule({"name": "Waving", "event": "tests.waved", "points": 10})
    with run_on_commit():
        services.save_trigger({"name": "Warm", "threshold": 10, "actions": [push(refuse=[ann.email])]})
        services.save_trigger({"name": "Hot", "threshold": 25, "actions": [push()]})
    with run_on_commit():
        services.handle_events([event("tests.waved", [ann])])
    page = marketer_client.get(f"/contacts/{ann.pk}/").content.decode()
    card = page[page.index('id="contact-points"'):]
    assert "Points: 10" in card and "+10" in card and "Waving" in card
    assert "Warm" in card and "is locked" in card and "15 more to reach" in card

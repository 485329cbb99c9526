"""In Chromium: a rule limited to a subject (HTMX), a trigger built with the action builder,
then a fact scores, the trigger fires, and its log and the contact's card show it."""

from __future__ import annotations

from django.db import transaction

from liaison.core import events
from liaison.points.models import PointRule, PointTrigger, TriggerFiring
from tests.factories import ContactFactory
from tests.points.conftest import crm, point_events  # noqa: F401 - the points tests' fixtures


def settle(page) -> None:
    page.wait_for_function("!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')")


def test_build_a_rule_and_a_trigger_then_see_them_work(signed_in, live_server, crm):  # noqa: F811
    page = signed_in
    page.click("nav >> text=Points")
    page.click("text=New rule")
    page.fill("#id_name", "Right wave")
    page.select_option("#id_event", label="Tests · Waves")
    settle(page)
    page.select_option("#id_subjects", label="Right hand")
    page.fill("#id_points", "10")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=+10 when waves (hand: Right hand)")
    assert PointRule.objects.get().subjects == ["right"]

    page.click(".tabs >> text=Triggers")
    page.click("text=New trigger")
    page.fill("#id_name", "Hot lead")
    page.fill("#id_threshold", "10")
    page.select_option("#add-action-key", label="Push to Example CRM")
    page.click("button:has-text('+ Add action')")
    settle(page)
    page.click("button:has-text('Save')")  # the list is missing: the message is next to it
    page.wait_for_selector("#actions-0 .field-error")
    page.select_option("select[name='actions-0-c-crm_list']", label="Newsletter list")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Firing log")
    trigger = PointTrigger.objects.get()
    assert trigger.actions[0]["config"]["crm_list"] == "newsletter"

    ann = ContactFactory(email="ann@example.com")
    with transaction.atomic():
        events.announce("tests.waved", [ann.pk], ref="wave:1", data={"hand": "right"})
    assert TriggerFiring.objects.get().status == "succeeded"
    page.reload()
    page.wait_for_selector("text=Added to Newsletter list.")
    page.click(f"td a[href='/contacts/{ann.pk}/']")
    card = page.locator("#contact-points")
    card.wait_for()
    assert "Points: 10" in card.inner_text() and "Hot lead" in card.inner_text()

import pytest

from liaison.contacts.models import Activity, Contact
from liaison.core.contributions import CampaignStep, StepTarget
from liaison.core.registry import registry
from tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def step(key):
    return registry.get(CampaignStep, key)


def test_adjust_points_in_bulk_with_the_origin():
    a, b = ContactFactory(points=1), ContactFactory(points=0)
    points = step("contacts.points")
    targets = [StepTarget(contact=a, dedupe_key="campaign:3:step:1:enrollment:1", campaign_id=3),
               StepTarget(contact=b, dedupe_key="points:trigger:4:contact:2:action:0", source="points")]
    results = points.run(targets, points.parse({"points": 5, "reason": "Welcome"}))
    assert [r.ok for r in results] == [True, True]
    assert dict(Contact.objects.filter(pk__in=[a.pk, b.pk]).values_list("pk", "points")) == {a.pk: 6, b.pk: 5}
    sources = set(Activity.objects.filter(kind="contact.points").values_list("source", flat=True))
    assert "campaign:3" in sources
    assert points.check(points.parse({"points": 0}))


def test_update_field_overwrites_or_fills():
    a, b = ContactFactory(city=""), ContactFactory(city="Lyon")
    update = step("contacts.update_field")
    targets = [StepTarget(contact=c, dedupe_key=f"k{c.pk}") for c in (a, b)]
    results = update.run(targets, update.parse({"field": "city", "value": "Paris", "policy": "fill"}))
    assert all(r.ok for r in results)
    assert dict(Contact.objects.filter(pk__in=[a.pk, b.pk]).values_list("pk", "city")) == {a.pk: "Paris", b.pk: "Lyon"}
    assert update.check(update.parse({"field": "email", "value": "x"}))
    assert not update.check(update.parse({"field": "city", "value": "x"}))


def test_two_point_changes_at_the_same_instant_both_reach_the_timeline():
    import time_machine

    from liaison.contacts.services import adjust_points

    ann = ContactFactory(points=0)
    with time_machine.travel("2026-03-01 09:00:00Z", tick=False):
        adjust_points([ann.pk], 5, "Webinar")
        adjust_points([ann.pk], -2, "Bounce")
    ann.refresh_from_db()
    assert ann.points == 3
    assert sorted(Activity.objects.filter(contact=ann, kind="contact.points").values_list("data__delta", flat=True)) \
        == [-2, 5]

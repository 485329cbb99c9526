import pytest

from liaison.contacts.models import Contact
from liaison.core.contributions import CampaignStep, StepTarget
from liaison.core.registry import registry
from liaison.segments.models import Membership, Segment, StaticMember
from tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def step(key):
    return registry.get(CampaignStep, key)


def yes(key, config, ids):
    definition = step(key)
    q = definition.to_q(definition.parse(config))
    return set(Contact.objects.filter(pk__in=ids).filter(q).values_list("pk", flat=True))


def test_add_and_remove_static_members():
    segment = Segment.objects.create(name="Warm")
    a, b = ContactFactory(), ContactFactory()
    add = step("segments.add")
    targets = [StepTarget(contact=c, dedupe_key=f"k{c.pk}", campaign_id=7) for c in (a, b)]
    results = add.run(targets, add.parse({"segments": [segment.pk]}))
    assert [r.message for r in results] == ["Added to “Warm”."] * 2
    assert set(StaticMember.objects.filter(segment=segment, included=True).values_list("contact_id", flat=True)) == {a.pk, b.pk}
    again = add.run(targets[:1], add.parse({"segments": [segment.pk]}))
    assert again[0].ok and again[0].message == "Already in “Warm”."
    assert Membership.objects.filter(segment=segment).count() == 2
    hot = Segment.objects.create(name="Hot")
    mixed = add.run(targets[:1], add.parse({"segments": [segment.pk, hot.pk]}))
    assert mixed[0].message == "Added to “Hot”; already in “Warm”."
    remove = step("segments.remove")
    assert remove.run(targets[:1], remove.parse({"segments": [segment.pk]}))[0].message == "Removed from “Warm”."
    assert remove.run(targets[:1], remove.parse({"segments": [segment.pk]}))[0].message == "Was not in “Warm”."
    assert set(Membership.objects.filter(segment=segment).values_list("contact_id", flat=True)) == {b.pk}
    gone = add.run(targets, add.parse({"segments": [segment.pk + 100]}))
    assert not gone[0].ok and "deleted" in gone[0].message


def test_is_in_segment():
    segment = Segment.objects.create(name="Hot")
    a, b = ContactFactory(), ContactFactory()
    Membership.objects.create(segment=segment, contact=a)
    assert yes("segments.member", {"segments": [segment.pk]}, [a.pk, b.pk]) == {a.pk}
    assert step("segments.member").check(step("segments.member").parse({"segments": [segment.pk + 9]}))


def test_field_value_uses_the_segment_operators():
    a, b = ContactFactory(city="Lyon", points=10), ContactFactory(city="paris", points=3)
    ids = [a.pk, b.pk]
    assert yes("segments.field_value", {"field": "contact.city", "operator": "eq", "value": "LYON"}, ids) == {a.pk}
    assert yes("segments.field_value", {"field": "contact.city", "operator": "in", "value": "Paris, Nice"}, ids) == {b.pk}
    assert yes("segments.field_value", {"field": "contact.points", "operator": "between", "value": "5, 20"}, ids) == {a.pk}
    fv = step("segments.field_value")
    assert fv.check(fv.parse({"field": "contact.points", "operator": "gt", "value": "many"}))
    assert fv.check(fv.parse({"field": "nope", "operator": "eq", "value": "x"}))
    assert "City" in fv.summary(fv.parse({"field": "contact.city", "operator": "eq", "value": "Lyon"}))

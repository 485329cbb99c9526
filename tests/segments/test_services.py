"""Rebuilds, static members, re-evaluation of changed contacts, unavailable filters."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import connection
from django.db.models import Exists, OuterRef
from django.test.utils import CaptureQueriesContext

from liaison.contacts import services as contacts
from liaison.contacts.models import Activity, Contact
from liaison.core.contributions import SegmentFilter
from liaison.core.errors import LiaisonError, ValidationFailed
from liaison.core.models import Job, Schedule
from liaison.core.registry import registry
from liaison.segments import filters as engine
from liaison.segments import services
from liaison.segments.models import Membership, PendingContact, Segment, StaticMember
from tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

ACME = {"match": "all", "rules": [{"filter": "contact.email", "operator": "ends_with", "value": "@acme.com"}]}


def members(segment) -> set[str]:
    return set(Membership.objects.filter(segment=segment).values_list("contact__email_key", flat=True))


@pytest.fixture
def make(django_capture_on_commit_callbacks):
    """Save a segment and let its rebuild job run (as after a real commit)."""
    def save(name="Acme people", filters=ACME):
        with django_capture_on_commit_callbacks(execute=True):
            return services.save_segment({"name": name, "filters": filters})
    return save


def test_saving_a_segment_builds_it_and_creates_the_schedules(make):
    ContactFactory(email="a@acme.com")
    ContactFactory(email="b@other.org")
    segment = make()
    segment.refresh_from_db()
    assert members(segment) == {"a@acme.com"}
    assert segment.member_count == 1 and segment.built_at is not None
    assert Job.objects.filter(kind="segments.rebuild", status="succeeded").exists()
    assert Schedule.objects.filter(kind="segments.rebuild").exists()
    assert Schedule.objects.filter(kind="segments.reevaluate").exists()


def test_rebuild_inserts_the_missing_and_deletes_the_leavers_in_a_fixed_number_of_queries(make):
    for i in range(30):
        ContactFactory(email=f"p{i}@acme.com" if i % 2 else f"p{i}@other.org")
    segment = make()
    assert len(members(segment)) == 15
    Contact.objects.filter(email_key="p1@acme.com").update(email_key="p1@other.org", email="p1@other.org")
    Contact.objects.filter(email_key="p0@other.org").update(email_key="p0@acme.com", email="p0@acme.com")
    with CaptureQueriesContext(connection) as small:
        result = services.rebuild_segment(segment)
    assert (result.added, result.removed, result.members) == (1, 1, 15)
    assert "p0@acme.com" in members(segment) and "p1@other.org" not in members(segment)
    for i in range(30, 300):
        ContactFactory(email=f"p{i}@acme.com")
    with CaptureQueriesContext(connection) as large:
        result = services.rebuild_segment(segment)
    assert result.added == 270
    assert len(large) == len(small) <= 10, [q["sql"][:100] for q in large]
    insert = next(q["sql"] for q in large if q["sql"].startswith("INSERT INTO"))
    assert "SELECT" in insert and "ON CONFLICT" in insert
    again = services.rebuild_segment(segment)
    assert (again.added, again.removed) == (0, 0)


def test_static_members_take_precedence_over_the_filters(make):
    inside = ContactFactory(email="in@acme.com")
    outside = ContactFactory(email="out@other.org")
    segment = make()
    assert services.add_static(segment, [outside.pk]) == 1
    assert services.remove_static(segment, [inside.pk]) == 1
    assert members(segment) == {"out@other.org"}
    services.rebuild_segment(segment)
    assert members(segment) == {"out@other.org"}
    assert Membership.objects.get(segment=segment).source == "static"
    segment.refresh_from_db()
    assert segment.member_count == 1
    # a re-run changes nothing; the timeline says what happened by hand
    assert services.add_static(segment, [outside.pk]) == 0
    assert Activity.objects.filter(kind="segments.added", contact=outside).count() == 1
    assert Activity.objects.filter(kind="segments.removed", contact=inside).count() == 1
    # let the filters decide again
    changes = services.reset_static(segment, [inside.pk, outside.pk])
    assert (changes.added, changes.removed) == (1, 1)
    assert members(segment) == {"in@acme.com"}
    assert not StaticMember.objects.exists()
    segment.refresh_from_db()
    assert segment.member_count == 1


def test_a_static_list_has_only_hand_picked_members():
    ContactFactory(email="a@acme.com")
    chosen = ContactFactory(email="chosen@x.org")
    segment = services.save_segment({"name": "Newsletter"})
    assert members(segment) == set()
    services.add_static(segment, [chosen.pk], origin="import")
    services.rebuild_segment(segment)
    assert members(segment) == {"chosen@x.org"}


def test_changed_contacts_are_re_evaluated_after_commit(make, run_on_commit):
    segment = make()
    with run_on_commit():
        result = contacts.upsert_contacts([{"email": "new@acme.com"}, {"email": "new@other.org"}])
    assert members(segment) == {"new@acme.com"}
    assert not PendingContact.objects.exists()
    job = Job.objects.filter(kind="segments.reevaluate").latest("created_at")
    assert job.status == "succeeded" and job.result["added"] == 1
    contact = Contact.objects.get(pk=result.ids["new@acme.com"])
    with run_on_commit():
        contacts.save_contact({"email": "moved@other.org"}, contact=contact)
    assert members(segment) == set()
    segment.refresh_from_db()
    assert segment.member_count == 0


def test_timeline_activity_re_evaluates_activity_segments(make, run_on_commit):
    from django.utils import timezone

    contact = ContactFactory(email="a@x.org")
    segment = make("Noted", {"match": "all", "rules": [
        {"filter": "activity.kind", "operator": "in_last_days", "value": {"values": ["contact.note"], "days": 7}}]})
    assert members(segment) == set()
    with run_on_commit():
        contacts.record_activities([contacts.ActivityInput(contact.pk, "contact.note", timezone.now(), "hi", "k1")])
    assert members(segment) == {"a@x.org"}


def test_re_evaluation_is_a_few_queries_whatever_the_number_of_segments(make):
    people = [ContactFactory(email=f"p{i}@acme.com", points=i) for i in range(20)]
    for n in range(12):
        make(f"S{n}", {"match": "any", "rules": [
            {"filter": "contact.points", "operator": "gt", "value": n},
            {"filter": "activity.kind", "operator": "ever", "value": {"values": []}}]})
    Contact.objects.filter(pk__in=[p.pk for p in people]).update(points=0)
    with CaptureQueriesContext(connection) as queries:
        changes = services.reevaluate([p.pk for p in people])
    assert changes.removed == sum(max(0, 19 - n) for n in range(12))
    assert len(queries) <= 10, [q["sql"][:80] for q in queries]
    assert all(s.member_count == 0 for s in Segment.objects.all())


def test_segment_of_segments_follows_dependency_order(make):
    contact = ContactFactory(email="a@acme.com")
    base = make()
    derived = make("Derived", {"match": "all", "rules": [
        {"filter": "segments.member", "operator": "in", "value": [str(base.pk)]}]})
    assert members(derived) == {"a@acme.com"}
    Contact.objects.filter(pk=contact.pk).update(email_key="a@other.org", email="a@other.org")
    services.reevaluate([contact.pk])
    assert members(base) == set() and members(derived) == set()
    with pytest.raises(ValidationFailed, match="depend on itself"):
        services.save_segment({"filters": {"match": "all", "rules": [
            {"filter": "segments.member", "operator": "in", "value": [str(derived.pk)]}]}}, segment=base)
    with pytest.raises(LiaisonError, match="used by the filters of “Derived”"):
        services.delete_segment(base)
    levels = services.build_order(Segment.objects.all(), engine.catalogue())
    assert [[s.name for s in level] for level in levels] == [["Acme people"], ["Derived"]]


@dataclass(eq=False, repr=False)
class PluginFilter(SegmentFilter):
    def to_q(self, operator, value):
        return Exists(Activity.objects.filter(contact=OuterRef("pk"), kind="contact.note"))


def test_an_unavailable_filter_keeps_the_members_and_skips_rebuilds(django_capture_on_commit_callbacks):
    plugin = PluginFilter(key="plugin.noted", label="Noted (plugin)", group="Plugin", value_type="boolean")
    noted = ContactFactory(email="noted@x.org")
    note = Activity.objects.create(contact=noted, kind="contact.note", occurred_at=noted.created_at,
                                          title="n", dedup_key="n")
    tree = {"match": "all", "rules": [{"filter": "plugin.noted", "operator": "eq", "value": True}]}
    with registry.override(plugin), django_capture_on_commit_callbacks(execute=True):
        segment = services.save_segment({"name": "Plugin", "filters": tree})
    with registry.override(plugin):
        assert members(segment) == {"noted@x.org"}
    # the integration is gone (restart without it): nothing fails, nothing is lost
    note.delete()
    result = services.rebuild_segment(segment)
    assert result.skipped and "plugin.noted" in result.skipped
    assert members(segment) == {"noted@x.org"}
    segment.refresh_from_db()
    assert "unavailable" in segment.build_problem
    assert services.reevaluate([noted.pk]).removed == 0
    # renaming keeps the stored condition; a new unknown condition is refused
    services.save_segment({"name": "Plugin (old)", "filters": tree}, segment=segment)
    with pytest.raises(ValidationFailed) as refused:
        services.save_segment({"filters": {"match": "all", "rules": [
            {"filter": "plugin.other", "operator": "eq", "value": True}]}}, segment=segment)
    assert "filters.rules.0.filter" in refused.value.errors
    # back again: the next rebuild catches up
    with registry.override(plugin):
        assert services.rebuild_segment(segment).removed == 1


def test_queue_survives_a_contact_deleted_meanwhile(make):
    contact = ContactFactory(email="a@acme.com")
    segment = make()
    PendingContact.objects.create(contact_id=contact.pk)
    PendingContact.objects.create(contact_id=999_999)
    contacts.delete_contacts([contact.pk])

    class Ctx:
        def check_cancelled(self):
            pass

        def progress(self, *args, **kwargs):
            pass

    assert services.drain(Ctx())["contacts"] == 2
    assert not PendingContact.objects.exists() and members(segment) == set()


def test_contacts_from_emails_creates_or_refuses():
    ContactFactory(email="known@x.org")
    ids, refused = services.contacts_from_emails(["known@x.org", "new@x.org", "nonsense"], create=False)
    assert len(ids) == 1 and set(refused) == {"new@x.org", "nonsense"}
    ids, refused = services.contacts_from_emails(["KNOWN@x.org", "new@x.org", "bad@"], create=True)
    assert len(ids) == 2 and refused == ["bad@"]


def test_a_long_queue_hands_over_to_a_new_job(make, monkeypatch, django_capture_on_commit_callbacks):
    from liaison.core import jobs

    segment = make()
    contacts_ = [ContactFactory(email=f"q{i}@acme.com") for i in range(3)]
    monkeypatch.setattr(services, "QUEUE_BATCH", 1)
    monkeypatch.setattr(services, "DRAIN_BUDGET_SECONDS", 0.0)
    PendingContact.objects.bulk_create([PendingContact(contact_id=c.pk) for c in contacts_])
    job = jobs.enqueue("segments.reevaluate", {}, dispatch_now=False)
    assert jobs.run_job(job.pk).status == "succeeded"
    assert PendingContact.objects.count() < 3
    while (continued := Job.objects.filter(kind="segments.reevaluate", status="queued").first()) is not None:
        assert jobs.run_job(continued.pk).status == "succeeded"
    assert not PendingContact.objects.exists() and len(members(segment)) == 3


def test_segments_are_an_audience_for_e_mails_and_campaigns(db):
    from liaison.contacts.models import Contact
    from liaison.core.contributions import Audience
    from liaison.core.registry import registry
    from liaison.segments.models import Membership, Segment
    from tests.factories import ContactFactory

    audience = registry.get(Audience, "segments.segment")
    news, vip = Segment.objects.create(name="News"), Segment.objects.create(name="VIP")
    ann, bob, cat = ContactFactory(), ContactFactory(), ContactFactory()
    Membership.objects.create(segment=news, contact=ann)
    Membership.objects.create(segment=vip, contact=bob)
    assert set(Contact.objects.filter(audience.to_q([str(news.pk), str(vip.pk)]))) == {ann, bob}
    assert list(Contact.objects.filter(audience.to_q([str(vip.pk), "junk"]))) == [bob]
    assert cat not in Contact.objects.filter(audience.to_q([str(news.pk)]))
    assert audience.choice_labels([str(news.pk), "999999"]) == {str(news.pk): "News"}
    assert [label for _, label in audience.choices("vi").items] == ["VIP"]
    assert audience.describe([str(news.pk), "999999"]) == "Segments: News, #999999 (deleted)"
    joined = Contact.objects.annotate(joined=audience.joined_at([str(news.pk)])).get(pk=ann.pk).joined
    assert joined == Membership.objects.get(contact=ann).added_at
    assert audience.unavailable_reason([str(news.pk)]) is None
    Segment.objects.filter(pk=news.pk).update(build_problem="A filter is unavailable.")
    assert "News" in audience.unavailable_reason([str(news.pk)])

"""Contacts services: bulk upsert by e-mail, policies, custom fields, the timeline."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from liaison.contacts import services
from liaison.contacts.models import Activity, Company, Contact, Field
from liaison.contacts.services import ActivityInput, record_activities, upsert_contacts
from liaison.core.errors import ValidationFailed
from tests.factories import ContactFactory, FieldFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_upsert_creates_updates_and_counts_unchanged():
    ContactFactory(email="known@example.com", first_name="Old", last_name="Name")
    result = upsert_contacts([
        {"email": "NEW@Example.com", "first_name": "Ann"},
        {"email": "known@EXAMPLE.com", "first_name": "New"},
    ])
    assert (result.created, result.updated, result.unchanged) == (1, 1, 0)
    assert Contact.objects.get(email_key="new@example.com").email == "NEW@Example.com"
    assert Contact.objects.get(email_key="known@example.com").first_name == "New"
    again = upsert_contacts([{"email": "new@example.com", "first_name": "Ann"}])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert set(result.ids) == {"new@example.com", "known@example.com"}


def test_email_is_unique_case_insensitively_by_construction():
    ContactFactory(email="Same@Example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.create(email="same@example.COM")


def test_fill_policy_writes_only_empty_fields():
    ContactFactory(email="a@example.com", first_name="Kept", last_name="")
    upsert_contacts([{"email": "a@example.com", "first_name": "Ignored", "last_name": "Filled"}],
                    policy={"first_name": "fill", "last_name": "fill"})
    contact = Contact.objects.get(email_key="a@example.com")
    assert (contact.first_name, contact.last_name) == ("Kept", "Filled")


def test_default_policy_fill_and_empty_values_never_blank():
    ContactFactory(email="a@example.com", first_name="Kept", city="Lyon")
    upsert_contacts([{"email": "a@example.com", "first_name": "New", "city": ""}], default_policy="fill")
    contact = Contact.objects.get(email_key="a@example.com")
    assert (contact.first_name, contact.city) == ("Kept", "Lyon")


def test_duplicates_in_one_batch_become_one_contact():
    result = upsert_contacts([{"email": "d@example.com", "first_name": "A"},
                              {"email": "D@example.com", "last_name": "B"}])
    assert result.created == 1
    contact = Contact.objects.get()
    assert (contact.first_name, contact.last_name) == ("A", "B")


def test_invalid_rows_change_nothing_or_are_reported_with_skip_invalid():
    with pytest.raises(ValidationFailed) as info:
        upsert_contacts([{"email": "ok@example.com"}, {"email": "not-an-email"}, {"first_name": "x"}])
    assert set(info.value.errors) == {"rows[1].email", "rows[2].email"}
    assert Contact.objects.count() == 0
    result = upsert_contacts([{"email": "ok@example.com"}, {"email": "bad@"}], skip_invalid=True)
    assert result.created == 1 and result.errors[0][0] == 1 and "email" in result.errors[0][1]


def test_single_row_errors_are_keyed_by_field():
    FieldFactory(alias="score", type="number")
    with pytest.raises(ValidationFailed) as info:
        upsert_contacts([{"email": "a@example.com", "custom": {"score": "lots"}, "phone": "call me"}])
    assert set(info.value.errors) == {"custom.score", "phone"}
    assert "'lots' is not a number" in info.value.errors["custom.score"][0]


def test_custom_fields_are_coerced_by_type_and_get_defaults():
    FieldFactory(alias="score", type="number")
    FieldFactory(alias="vip", type="boolean", default=False)
    FieldFactory(alias="born", type="date")
    FieldFactory(alias="seen", type="datetime")
    FieldFactory(alias="size", type="select", choices=[{"value": "S"}, {"value": "M"}])
    FieldFactory(alias="tags", type="multiselect", choices=[{"value": "a"}, {"value": "b"}])
    FieldFactory(alias="site", type="url")
    upsert_contacts([{"email": "c@example.com", "custom.score": "12,5", "custom": {
        "born": "2001-02-03", "seen": "2026-01-01T10:00:00+01:00", "size": "M", "tags": "a|b", "site": "example.com"}}])
    custom = Contact.objects.get().custom
    assert custom == {"score": 12.5, "vip": False, "born": "2001-02-03", "seen": "2026-01-01T09:00:00Z",
                      "size": "M", "tags": ["a", "b"], "site": "https://example.com"}
    with pytest.raises(ValidationFailed) as info:
        upsert_contacts([{"email": "c@example.com", "custom": {"size": "XL"}}])
    assert "not one of the choices" in info.value.errors["custom.size"][0]


def test_unknown_field_is_refused():
    with pytest.raises(ValidationFailed) as info:
        upsert_contacts([{"email": "c@example.com", "favourite_colour": "blue"}])
    assert "favourite_colour" in info.value.errors


def test_companies_are_matched_by_name_and_created_in_bulk():
    Company.objects.create(name="ACME  Corp")
    upsert_contacts([{"email": f"p{i}@example.com", "company": name}
                     for i, name in enumerate(["acme corp", "Globex", "GLOBEX", "Initech"])])
    assert Company.objects.count() == 3
    assert Contact.objects.filter(company__name="ACME  Corp").count() == 1


def test_owner_by_username_and_default_owner_for_new_contacts():
    alice = UserFactory(username="alice")
    bob = UserFactory(username="bob", email="bob@corp.test")
    upsert_contacts([{"email": "a@example.com", "owner": "alice"}, {"email": "b@example.com"}], owner=bob)
    assert Contact.objects.get(email_key="a@example.com").owner == alice
    assert Contact.objects.get(email_key="b@example.com").owner == bob
    with pytest.raises(ValidationFailed):
        upsert_contacts([{"email": "c@example.com", "owner": "nobody"}])


def test_do_not_contact_through_upsert_sets_the_date():
    upsert_contacts([{"email": "a@example.com", "do_not_contact": "yes", "dnc_reason": "Asked"}])
    contact = Contact.objects.get()
    assert contact.do_not_contact and contact.dnc_at is not None and contact.dnc_reason == "Asked"


def test_upsert_is_set_based_not_per_row():
    upsert_contacts([{"email": f"x{i}@example.com"} for i in range(300)])
    rows = [{"email": f"x{i}@example.com", "first_name": "Changed"} for i in range(300)] + [
        {"email": f"y{i}@example.com"} for i in range(300)]
    with CaptureQueriesContext(connection) as queries:
        result = upsert_contacts(rows)
    assert (result.created, result.updated) == (300, 300)
    assert len(queries) < 25, [q["sql"][:80] for q in queries]


def test_contacts_changed_signal_after_commit(django_capture_on_commit_callbacks):
    received = []
    services.contacts_changed.connect(lambda sender, contact_ids, **kw: received.append(sorted(contact_ids)),
                                      weak=False, dispatch_uid="test-listener")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = upsert_contacts([{"email": "a@example.com"}, {"email": "b@example.com"}])
        assert received == [sorted(result.ids.values())]
    finally:
        services.contacts_changed.disconnect(dispatch_uid="test-listener")


def test_record_activities_deduplicates():
    contact = ContactFactory()
    now = timezone.now()
    items = [ActivityInput(contact.pk, "contact.note", now - timedelta(hours=i), f"n{i}", f"k{i}") for i in range(5)]
    assert record_activities(items) == 5
    assert record_activities(items + [ActivityInput(contact.pk, "contact.note", now, "dup", "k0")]) == 0
    assert Activity.objects.count() == 5
    contact.refresh_from_db()
    assert contact.last_activity_at == now


def test_record_activities_refuses_unregistered_kinds():
    contact = ContactFactory()
    with pytest.raises(ValueError):
        record_activities([ActivityInput(contact.pk, "made.up", timezone.now(), "x", "k")])


def test_save_contact_reports_duplicate_email_next_to_the_field():
    ContactFactory(email="taken@example.com")
    with pytest.raises(ValidationFailed) as info:
        services.save_contact({"email": "TAKEN@example.com"})
    assert "already exists" in info.value.errors["email"][0]


def test_save_contact_can_blank_and_change_email():
    contact = services.save_contact({"email": "a@example.com", "city": "Paris", "company": "Acme"})
    assert Activity.objects.filter(contact=contact, kind="contact.created").exists()
    services.save_contact({"email": "b@example.com", "city": "", "company": ""}, contact=contact)
    contact.refresh_from_db()
    assert (contact.email_key, contact.city, contact.company) == ("b@example.com", "", None)


def test_field_definitions_validate():
    with pytest.raises(ValidationFailed) as info:
        services.save_field({"alias": "Bad Alias!", "label": "", "type": "colour"})
    assert set(info.value.errors) >= {"alias", "label", "type"}
    with pytest.raises(ValidationFailed) as info:
        services.save_field({"alias": "email", "label": "E-mail again"})
    assert "standard contact field" in info.value.errors["alias"][0]
    field = services.save_field({"alias": "tier", "label": "Tier", "type": "select", "choices": "Gold\nSilver"})
    with pytest.raises(ValidationFailed) as info:
        services.save_field({"alias": "tier2", "label": "T", "type": "select", "choices": "A", "default": "B"})
    assert "default" in info.value.errors
    with pytest.raises(ValidationFailed):
        services.save_field({"alias": "tier", "label": "Tier", "type": "number"}, field_obj=field)


def test_deleting_a_field_removes_its_values():
    field = services.save_field({"alias": "tier", "label": "Tier"})
    upsert_contacts([{"email": "a@example.com", "custom": {"tier": "gold"}}, {"email": "b@example.com"}])
    assert services.field_usage(field) == 1
    assert services.delete_field(field) == 1
    assert Contact.objects.get(email_key="a@example.com").custom == {}
    assert not Field.objects.exists()


def test_filter_contacts():
    acme = Company.objects.create(name="Acme")
    ContactFactory(email="ann@example.com", first_name="Ann", last_name="Smith", company=acme, points=10)
    ContactFactory(email="bob@example.com", first_name="Bob", last_name="Jones", do_not_contact=True)
    assert [c.email for c in services.filter_contacts({"q": "ann smith"})] == ["ann@example.com"]
    assert [c.email for c in services.filter_contacts({"q": "BOB@"})] == ["bob@example.com"]
    assert [c.email for c in services.filter_contacts({"q": "acme"})] == ["ann@example.com"]
    assert [c.email for c in services.filter_contacts({"do_not_contact": "1"})] == ["bob@example.com"]
    assert [c.email for c in services.filter_contacts({"points_min": "5"})] == ["ann@example.com"]
    assert [c.email for c in services.filter_contacts({"sort": "name"})] == ["bob@example.com", "ann@example.com"]

"""Three contacts that differ on every field type, for the filter matrix."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from liaison.contacts.models import Activity, Company, Contact, Field
from tests.factories import CompanyFactory, ContactFactory, UserFactory


@pytest.fixture
def people(db):
    now = timezone.now()
    for alias, kind, choices in (("tier", "select", ["gold", "silver"]), ("score", "number", []),
                                 ("since", "date", []), ("vip", "boolean", []),
                                 ("tags", "multiselect", ["a", "b", "c"]),
                                 ("note", "text", []), ("seen_at", "datetime", [])):
        Field.objects.create(alias=alias, label=alias.title(), type=kind,
                             choices=[{"value": c, "label": c.title()} for c in choices])
    Field.objects.create(object="company", alias="sector", label="Sector", type="text")
    owner = UserFactory(username="owner")
    acme = CompanyFactory(name="Acme", city="Paris", employees=50, industry="Software", custom={"sector": "saas"})
    beta = CompanyFactory(name="Beta", city="Lyon", employees=None)
    ann = ContactFactory(email="ann@acme.com", first_name="Ann", city="Lyon", points=10, company=acme, owner=owner,
                         created_at=now - timedelta(days=10), last_activity_at=now - timedelta(days=2),
                         custom={"tier": "gold", "score": 7.5, "since": "2024-03-01", "vip": True, "tags": ["a", "b"],
                                 "note": "hello world",
                                 "seen_at": (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")})
    bob = ContactFactory(email="bob@example.org", first_name="Bob", city="Paris", points=0, company=beta,
                         created_at=now - timedelta(days=40),
                         custom={"tier": "silver", "score": 3, "since": "2023-12-31", "vip": False, "tags": ["c"],
                                 "seen_at": (now - timedelta(days=30)).isoformat().replace("+00:00", "Z")})
    cid = ContactFactory(email="cid@acme.com", first_name="", last_name="", city="", points=-5,
                         do_not_contact=True, created_at=now)
    Activity.objects.create(contact=ann, kind="contact.note", occurred_at=now - timedelta(days=2), title="n",
                            dedup_key="n1")
    Activity.objects.create(contact=ann, kind="contact.imported", occurred_at=now - timedelta(days=20), title="i",
                            dedup_key="i1")
    return {"ann": ann, "bob": bob, "cid": cid, "owner": owner, "acme": acme, "beta": beta}


def names(qs) -> set[str]:
    by_id = {c.pk: c.email.split("@")[0] for c in Contact.objects.all()}
    return {by_id[pk] for pk in qs.values_list("pk", flat=True)}


@pytest.fixture
def company_model():
    return Company

"""CSV export of any filtered contact list, streamed (constant memory)."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.db.models import QuerySet
from django.utils import timezone

from liaison.contacts.fields import custom_field_defs
from liaison.contacts.models import Contact

STANDARD_COLUMNS = ("email", "first_name", "last_name", "position", "phone", "mobile", "address1", "address2",
                    "city", "state", "postcode", "country")


class _Echo:
    def write(self, value: str) -> str:
        return value


def contacts_csv(qs: QuerySet[Contact]) -> Iterator[str]:
    """Lines of a CSV file: standard fields, company, owner, points, do-not-contact, custom fields."""
    customs = custom_field_defs()
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(
        ["id", *STANDARD_COLUMNS, "company", "owner", "points", "do_not_contact", "dnc_reason", "created_at",
         *[d.key for d in customs]])
    for contact in qs.select_related("company", "owner").iterator(chunk_size=2000):
        custom = contact.custom or {}
        values = []
        for d in customs:
            value = custom.get(d.alias, "")
            values.append("|".join(map(str, value)) if isinstance(value, list) else value)
        yield writer.writerow([
            contact.pk,
            *[getattr(contact, column) for column in STANDARD_COLUMNS],
            contact.company.name if contact.company else "",
            contact.owner.username if contact.owner else "",
            contact.points,
            "yes" if contact.do_not_contact else "no",
            contact.dnc_reason,
            timezone.localtime(contact.created_at).isoformat(timespec="seconds"),
            *values,
        ])

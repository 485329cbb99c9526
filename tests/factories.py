from __future__ import annotations

import factory
from django.utils import timezone

from liaison.contacts.models import Activity, Company, Contact, Field, normalize_email, normalize_name
from liaison.users.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = "marketer"
    password = factory.django.Password("correct horse battery staple")


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Sequence(lambda n: f"Company {n}")
    name_key = factory.LazyAttribute(lambda c: normalize_name(c.name))


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    email_key = factory.LazyAttribute(lambda c: normalize_email(c.email))
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")


class FieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Field

    alias = factory.Sequence(lambda n: f"field_{n}")
    label = factory.LazyAttribute(lambda f: f.alias.replace("_", " ").title())
    type = "text"


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    contact = factory.SubFactory(ContactFactory)
    kind = "contact.note"
    occurred_at = factory.LazyFunction(timezone.now)
    title = "A note"
    dedup_key = factory.Sequence(lambda n: f"test:{n}")


class EmailFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "emails.Email"

    name = factory.Sequence(lambda n: f"E-mail {n}")
    subject = "Hello {contactfield=first_name|there}"
    html = ('<p>Hello {contactfield=first_name|there},</p><p><a href="https://example.com/news">Read the news</a></p>'
            '<p><a href="{unsubscribe_url}">Unsubscribe</a></p>')
    kind = "template"
    published = True

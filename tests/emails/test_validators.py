"""Save-time validators: they see what would be stored (relations included) and refuse it whole."""

from __future__ import annotations

import pytest

from liaison.core.contributions import EmailValidator
from liaison.core.errors import ValidationFailed
from liaison.core.registry import registry
from liaison.emails import services
from liaison.emails.models import Email, EmailContent

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

BASE = {"name": "n", "subject": "s", "html": "<p>{example_join=spring}</p>"}


def needs_a_version_when_joining(email):
    """Shaped like GoTo's rule: {webinar_button} needs segments with a registration filter."""
    joins = [use for use in email.token_uses() if use.name == "example_join"]
    if joins and not email.versions.filter(subject__startswith="registered").exists():
        return ["A join button needs an audience of registered people."]
    return []


RULE = EmailValidator(key="test.join_audience", label="Join buttons need registered people",
                      check=needs_a_version_when_joining, field="html")


def test_a_validator_sees_relations_written_in_the_same_save_and_a_refusal_rolls_back():
    def audience(subject):
        def write(email):
            EmailContent.objects.create(email=email, digest=f"d-{subject}", subject=subject, html="")
        return write

    with registry.override(RULE):
        with pytest.raises(ValidationFailed) as exc:
            services.save_email(BASE, relations=audience("everyone"))
        assert exc.value.errors == {"html": ["A join button needs an audience of registered people."]}
        assert not Email.objects.exists() and not EmailContent.objects.exists()
        email = services.save_email(BASE, relations=audience("registered people"))
    assert email.pk and email.versions.count() == 1


def test_validators_returning_a_mapping_place_messages_per_field():
    rule = EmailValidator(key="test.mapping", label="m", check=lambda email: {"from_name": ["Sign it."], "x": []})
    with registry.override(rule):
        with pytest.raises(ValidationFailed) as exc:
            services.save_email({**BASE, "html": "<p>x</p>"})
    assert exc.value.errors == {"from_name": ["Sign it."]}


def test_core_validator_segment_emails_need_an_unsubscribe_link():
    with pytest.raises(ValidationFailed) as exc:
        services.save_email({**BASE, "kind": "segment", "text": "Stop: {unsubscribe_url}"})
    assert list(exc.value.errors) == ["html"]  # the HTML part is what people read
    email = services.save_email({**BASE, "kind": "segment",
                                 "html": '<p><a href="{unsubscribe_url}">Stop</a> {example_join=spring}</p>'})
    assert email.kind == "segment"
    with pytest.raises(ValidationFailed) as exc:
        services.save_email({"html": "<p>No way out</p>"}, email=email)
    assert exc.value.errors["html"][0].startswith("A segment e-mail must let people unsubscribe")
    email.refresh_from_db()
    assert "{unsubscribe_url}" in email.html

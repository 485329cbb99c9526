"""GoTo's rule: a segment e-mail with a webinar join token targets only segments of registrants."""

from __future__ import annotations

import pytest

from liaison.core.errors import ValidationFailed
from liaison.emails import broadcasts, services
from liaison.integrations.goto.email_validators import requires_filter
from liaison.segments.models import Segment

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

REGISTERED = {"filter": "goto.webinar.registered", "operator": "ever", "value": {"values": ["any"]}}
EXCLUDED = {**REGISTERED, "operator": "never"}
CITY = {"filter": "contact.city", "operator": "eq", "value": "Lyon"}
HTML = '<p>{webinar_button}</p><p><a href="{unsubscribe_url}">Unsubscribe</a></p>'


def segment(name, *rules, match="all"):
    # Stored as the builder stores them (no GoTo account is needed to read the tree).
    return Segment.objects.create(name=name, filters={"match": match, "rules": list(rules)})


def email_to(*segs, html=HTML):
    return services.save_email({"name": "Join us", "subject": "Tomorrow", "html": html, "kind": "segment",
                                "audiences": [{"audience": "segments.segment", "values": [str(s.pk) for s in segs]}]})


def test_segments_that_each_carry_the_registered_filter_are_accepted():
    email = email_to(segment("Registrants", REGISTERED), segment("Lyon registrants", CITY, REGISTERED))
    assert email.pk


def test_segments_lacking_it_are_named_in_the_refusal():
    good = segment("Registrants", REGISTERED)
    bad = segment("Lyon", CITY)
    excluded = segment("Not registered", EXCLUDED)
    with pytest.raises(ValidationFailed) as exc:
        email_to(good, bad, excluded)
    [message] = exc.value.errors["audiences"]
    assert message == ("{webinar_button} needs segments that each carry a “Registered for a webinar” include filter "
                       "(all members must match it); these segments lack it: Lyon, Not registered.")


def test_webinar_link_follows_the_same_rule_and_template_emails_are_free():
    html = '<p><a href="{webinar_link}">Join</a> <a href="{unsubscribe_url}">u</a></p>'
    with pytest.raises(ValidationFailed) as exc:
        email_to(segment("Lyon", CITY), html=html)
    assert exc.value.errors["audiences"][0].startswith("{webinar_link} needs segments")
    assert services.save_email({"name": "t", "subject": "s", "html": html}).pk  # one contact at a time: fine


def test_the_rule_is_checked_again_when_sending():
    seg = segment("Registrants", REGISTERED)
    email = email_to(seg)
    Segment.objects.filter(pk=seg.pk).update(filters={"match": "all", "rules": [CITY]})
    with pytest.raises(ValidationFailed) as exc:
        broadcasts.start(email)
    assert "lacks it: Registrants" in exc.value.errors["audiences"][0]


@pytest.mark.parametrize(("tree", "required"), [
    ({"match": "all", "rules": [REGISTERED]}, True),
    ({"match": "any", "rules": [REGISTERED, CITY]}, False),  # Lyon people need not be registered
    ({"match": "any", "rules": [REGISTERED]}, True),
    ({"match": "all", "rules": [CITY, {"match": "any", "rules": [REGISTERED, {**REGISTERED, "operator":
                                                                           "in_last_days"}]}]}, True),
    ({"match": "all", "rules": [EXCLUDED]}, False),
    ({"match": "all", "rules": []}, False),
])
def test_which_filter_trees_require_a_registration(tree, required):
    assert requires_filter(tree, "goto.webinar.registered") is required

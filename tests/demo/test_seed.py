"""The demo's marketing data: segments and forms a visitor can use at once."""

from __future__ import annotations

import pytest

from liaison.campaigns import services as campaigns
from liaison.campaigns.models import Campaign
from liaison.contacts.models import Contact
from liaison.demo import services
from liaison.points.models import PointRule, PointTrigger
from liaison.segments.models import Segment
from liaison.webforms.models import Form


@pytest.mark.django_db
def test_the_demo_seeds_contacts_segments_and_forms(run_on_commit, settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with run_on_commit():
        counts = services.seed_demo(contact_count=60)
    assert counts["contacts"] == 60 and counts["segments"] == len(services.DEMO_SEGMENTS) and counts["forms"] == 1
    assert (counts["point_rules"], counts["point_triggers"], counts["campaigns"]) == (len(services.DEMO_POINT_RULES), 1, 1)
    names = set(Segment.objects.values_list("name", flat=True))
    assert {name for name, _, _ in services.DEMO_SEGMENTS} <= names
    hot = Segment.objects.get(name="Hot leads")
    assert hot.member_count == Contact.objects.filter(points__gte=50).count() > 0
    assert Form.objects.get(name="Contact us").published
    assert set(PointRule.objects.values_list("event", flat=True)) == {r["event"] for r in services.DEMO_POINT_RULES}
    assert PointTrigger.objects.get().actions[0]["config"]["segments"] == [Segment.objects.get(name="Sales-ready").pk]
    welcome = Campaign.objects.get()
    assert welcome.status == "draft" and not campaigns.publish_problems(welcome)
    assert [s.key for s in welcome.steps.order_by("pk")] == ["emails.send", "emails.opens", "contacts.points"]
    # Seeding again adds nothing.
    assert services.seed_marketing() == {"segments": len(services.DEMO_SEGMENTS), "forms": 0, "point_rules": 0,
                                         "point_triggers": 0, "campaigns": 0}
    assert Form.objects.count() == 1

from datetime import UTC, datetime

import pytest

from liaison.core.contributions import CampaignStep, ContactEvent
from liaison.core.registry import registry

pytestmark = [pytest.mark.django_db]


def test_submits_form_matches_the_chosen_forms():
    decision = registry.get(CampaignStep, "webforms.submits")
    event = ContactEvent(key="webforms.submitted", contact_ids=(1,), occurred_at=datetime.now(UTC),
                         ref="webforms:submission:9", data={"form_id": 5, "submission_id": 9})
    assert decision.can_start
    assert decision.matches(decision.parse({}), event)
    assert decision.matches(decision.parse({"forms": [5]}), event)
    assert not decision.matches(decision.parse({"forms": [6]}), event)
    assert decision.context_from(decision.parse({}), event) == {"form_id": 5, "submission_id": 9}

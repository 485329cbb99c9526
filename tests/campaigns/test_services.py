"""Editing campaigns: sources, the step tree, publishing, the serialised tree and statistics."""

from datetime import UTC, datetime

import pytest

from liaison.campaigns import services
from liaison.campaigns.models import Campaign, Step
from liaison.core.errors import LiaisonError, ValidationFailed
from liaison.segments.models import Segment

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def segment():
    return Segment.objects.create(name="Newsletter")


@pytest.fixture
def campaign(segment):
    return services.create_campaign({"name": "Welcome", "audiences": [{"key": "segments.segment",
                                                                       "values": [str(segment.pk)]}]})


def test_campaign_needs_a_name_and_known_sources():
    with pytest.raises(ValidationFailed) as caught:
        services.create_campaign({"name": " ", "reentry": "sometimes",
                                  "audiences": [{"key": "nope", "values": ["1"]}, {"key": "segments.segment"}],
                                  "starts": [{"key": "example.tag", "config": {}},
                                             {"key": "example.clicked", "config": {"thing": 3, "other": 1}}]})
    errors = caught.value.errors
    assert set(errors) == {"name", "reentry", "audiences.0.key", "audiences.1.values", "starts.0.key",
                           "starts.1.config.thing", "starts.1.config.other"}
    assert not Campaign.objects.exists()


def test_campaign_saves_sources_and_describes_them(segment):
    campaign = services.create_campaign({"name": "Clicks", "reentry": "rejoin",
                                         "audiences": [{"key": "segments.segment", "values": [segment.pk]}],
                                         "starts": [{"key": "example.clicked", "config": {"thing": "demo"}}]})
    campaign.refresh_from_db()
    assert campaign.status == "draft" and campaign.reentry == "rejoin"
    assert campaign.audiences == [{"key": "segments.segment", "values": [str(segment.pk)]}]
    assert services.describe_sources(campaign) == ["Segments: Newsletter", "Clicks demo"]
    services.update_campaign(campaign, {"description": "Who clicked"})
    campaign.refresh_from_db()
    assert campaign.name == "Clicks" and campaign.description == "Who clicked"


def test_step_config_is_validated_per_field(campaign):
    with pytest.raises(ValidationFailed) as caught:
        services.add_step(campaign, {"key": "example.tag", "config": {}})
    assert caught.value.errors == {"config.tag": ["This setting is required."]}
    with pytest.raises(ValidationFailed) as caught:
        services.add_step(campaign, {"key": "example.tag", "config": {"tag": "forbidden"}})
    assert caught.value.errors == {"config": ["The tag “forbidden” is reserved by the Example CRM."]}
    with pytest.raises(ValidationFailed) as caught:
        services.add_step(campaign, {"key": "example.unknown"})
    assert list(caught.value.errors) == ["key"]
    assert not campaign.steps.exists()


def test_branches_follow_the_parent_kind(campaign):
    condition = services.add_step(campaign, {"key": "example.named", "config": {"names": ["Ada"]}})
    with pytest.raises(ValidationFailed) as caught:
        services.add_step(campaign, {"key": "example.tag", "parent": condition.pk, "config": {"tag": "x"}})
    assert caught.value.errors == {"branch": ["Choose the yes or the no branch."]}
    yes = services.add_step(campaign, {"key": "example.tag", "parent": condition.pk, "branch": "yes",
                                       "config": {"tag": "x"}})
    with pytest.raises(ValidationFailed) as caught:
        services.add_step(campaign, {"key": "example.tag", "parent": yes.pk, "branch": "no", "config": {"tag": "y"}})
    assert caught.value.errors == {"branch": ["Steps after an action have no branch."]}
    with pytest.raises(ValidationFailed):
        services.add_step(campaign, {"key": "example.tag", "branch": "yes", "config": {"tag": "y"}})
    other = services.create_campaign({"name": "Other"})
    with pytest.raises(ValidationFailed) as caught:
        services.add_step(other, {"key": "example.tag", "parent": yes.pk, "config": {"tag": "y"}})
    assert caught.value.errors == {"parent": ["That step is not in this campaign."]}


def test_delays_and_timeouts_are_checked(campaign):
    with pytest.raises(ValidationFailed) as caught:
        services.add_step(campaign, {"key": "example.tag", "config": {"tag": "x"}, "delay": "relative",
                                     "delay_amount": 0, "timeout_amount": 3})
    assert set(caught.value.errors) == {"delay_amount", "timeout_amount"}
    with pytest.raises(ValidationFailed) as caught:
        services.add_step(campaign, {"key": "example.tag", "config": {"tag": "x"}, "delay": "until",
                                     "delay_until": "next tuesday"})
    assert list(caught.value.errors) == ["delay_until"]
    with pytest.raises(ValidationFailed) as caught:
        services.add_step(campaign, {"key": "example.clicked", "delay": "relative", "delay_amount": 2})
    assert list(caught.value.errors) == ["delay"]
    with pytest.raises(ValidationFailed) as caught:
        services.add_step(campaign, {"key": "example.tag", "config": {"tag": "x"}, "delay": "relative",
                                     "delay_amount": 9, "delay_unit": "weeks"})
    assert list(caught.value.errors) == ["delay_unit"]
    step = services.add_step(campaign, {"key": "example.tag", "config": {"tag": "x"}, "delay": "relative",
                                        "delay_amount": 2, "delay_unit": "hours"})
    assert step.describe_delay() == "after 2 hours"
    step = services.add_step(campaign, {"key": "example.tag", "config": {"tag": "x"}, "delay": "until",
                                        "delay_until": "2026-12-24T09:00:00Z"})
    assert step.delay_until == datetime(2026, 12, 24, 9, tzinfo=UTC)
    decision = services.add_step(campaign, {"key": "example.clicked", "timeout_amount": 3, "timeout_unit": "days"})
    assert decision.describe_timeout() == "3 days" and decision.step_kind == "decision"


def test_update_keeps_the_kind(campaign):
    step = services.add_step(campaign, {"key": "example.tag", "config": {"tag": "x"}})
    with pytest.raises(ValidationFailed) as caught:
        services.update_step(step, {"key": "example.named", "config": {"names": ["A"]}})
    assert list(caught.value.errors) == ["key"]
    with pytest.raises(ValidationFailed):
        services.update_step(step, {"config": {"tag": ""}})
    services.update_step(step, {"key": "example.idempotent", "config": {"tag": "y"}, "name": "Again"})
    step.refresh_from_db()
    assert (step.key, step.config, step.name) == ("example.idempotent", {"tag": "y"}, "Again")


def test_positions_move_and_delete(campaign):
    a = services.add_step(campaign, {"key": "example.tag", "config": {"tag": "a"}})
    b = services.add_step(campaign, {"key": "example.tag", "config": {"tag": "b"}})
    c = services.add_step(campaign, {"key": "example.tag", "config": {"tag": "c"}, "position": 0})
    def order():
        return [s.config["tag"] for s in Step.objects.filter(campaign=campaign, parent=None).order_by("position")]
    assert order() == ["c", "a", "b"]
    services.move_step(b, parent=a.pk)
    assert order() == ["c", "a"]
    b.refresh_from_db()
    assert b.parent_id == a.pk and b.position == 0
    with pytest.raises(ValidationFailed) as caught:
        services.move_step(a, parent=b.pk)
    assert caught.value.errors == {"parent": ["A step cannot move under itself."]}
    services.move_step(c, parent=a.pk, position=0)
    assert [s.config["tag"] for s in a.children.order_by("position")] == ["c", "b"]
    services.delete_step(a)
    assert not campaign.steps.exists()


def test_publish_refuses_with_reasons(example_offline=None):
    campaign = services.create_campaign({"name": "Empty"})
    with pytest.raises(ValidationFailed) as caught:
        services.publish(campaign)
    assert set(caught.value.errors) == {"sources", "steps"}
    campaign = services.create_campaign({"name": "Broken", "starts": [{"key": "example.clicked", "config": {}}]})
    unknown = Step.objects.create(campaign=campaign, step_kind="action", key="gone.away", config={})
    bad = Step.objects.create(campaign=campaign, step_kind="action", key="example.tag", config={"tag": ""})
    from tests.testapp import campaign_steps
    campaign_steps.OFFLINE.append("The Example CRM connection is switched off.")
    offline = services.add_step(campaign, {"key": "example.offline", "config": {"tag": "x"}})
    with pytest.raises(ValidationFailed) as caught:
        services.publish(campaign)
    errors = caught.value.errors
    assert set(errors) == {f"step.{unknown.pk}", f"step.{bad.pk}", f"step.{offline.pk}"}
    assert "not installed" in errors[f"step.{unknown.pk}"][0]
    assert errors[f"step.{offline.pk}"] == ["Tag while offline: The Example CRM connection is switched off."]
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_publish_pause_resume(campaign):
    services.add_step(campaign, {"key": "example.tag", "config": {"tag": "a"}})
    with pytest.raises(LiaisonError):
        services.pause(campaign)
    services.publish(campaign)
    assert campaign.status == "published" and campaign.published_at
    with pytest.raises(ValidationFailed):
        services.update_campaign(campaign, {"audiences": []})
    services.pause(campaign)
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    services.resume(campaign)
    campaign.refresh_from_db()
    assert campaign.status == "published"
    with pytest.raises(LiaisonError):
        services.resume(campaign)


def test_tree_and_catalogue(campaign):
    condition = services.add_step(campaign, {"key": "example.named", "config": {"names": ["Ada", "Bob"]}})
    services.add_step(campaign, {"key": "example.tag", "parent": condition.pk, "branch": "no",
                                 "config": {"tag": "no"}})
    services.add_step(campaign, {"key": "example.tag", "parent": condition.pk, "branch": "yes",
                                 "config": {"tag": "yes"}, "delay": "relative", "delay_amount": 1,
                                 "delay_unit": "days"})
    tree = services.campaign_tree(campaign)
    assert len(tree) == 1
    root = tree[0]
    assert root["summary"] == "First name is Ada or Bob" and root["kind"] == "condition"
    assert [(c["branch"], c["summary"], c["delay_text"]) for c in root["children"]] == [
        ("yes", "Tag “yes” in the Example CRM", "after 1 day"), ("no", "Tag “no” in the Example CRM", "")]
    assert root["stats"]["total"] == 0
    catalogue = {item["key"]: item for item in services.catalogue()}
    assert catalogue["example.clicked"]["can_start"] and catalogue["example.clicked"]["kind"] == "decision"
    assert catalogue["example.tag"]["config"][0]["name"] == "tag"

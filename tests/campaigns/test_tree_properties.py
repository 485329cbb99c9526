"""Whatever sequence of adds, moves and deletes: the tree stays a tree, with siblings numbered 0..n-1
in the order asked for, and branches that fit their parent."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liaison.campaigns import services
from liaison.campaigns.models import Campaign, Step
from liaison.core.errors import ValidationFailed

pytestmark = pytest.mark.django_db

KEYS = ["example.tag", "example.named", "example.clicked"]
CONFIGS = {"example.tag": {"tag": "t"}, "example.named": {"names": ["Ada"]}, "example.clicked": {}}
operation = st.tuples(st.sampled_from(["add", "move", "delete"]), st.integers(0, 30), st.integers(0, 30),
                      st.sampled_from(["", "yes", "no"]), st.integers(0, 6), st.sampled_from(KEYS))


def _order(campaign, parent_id, branch):
    return list(Step.objects.filter(campaign=campaign, parent_id=parent_id, branch=branch)
                .order_by("position", "id").values_list("pk", flat=True))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(operation, max_size=25))
def test_tree_invariants(operations):
    Campaign.objects.all().delete()
    campaign = services.create_campaign({"name": "Props"})
    for action, a, b, branch, position, key in operations:
        ids = list(campaign.steps.order_by("id").values_list("pk", flat=True))
        parent = ids[a % len(ids)] if ids and a % 3 else None
        try:
            if action == "add":
                step = services.add_step(campaign, {"key": key, "config": CONFIGS[key], "parent": parent,
                                                    "branch": branch, "position": position})
                assert _order(campaign, step.parent_id, step.branch).index(step.pk) == min(
                    position, len(_order(campaign, step.parent_id, step.branch)) - 1)
            elif action == "move" and ids:
                step = Step.objects.get(pk=ids[b % len(ids)])
                services.move_step(step, parent, branch, position)
                assert _order(campaign, step.parent_id, step.branch).index(step.pk) == min(
                    position, len(_order(campaign, step.parent_id, step.branch)) - 1)
            elif action == "delete" and ids:
                services.delete_step(Step.objects.get(pk=ids[b % len(ids)]))
        except ValidationFailed:
            pass
        steps = {s.pk: s for s in campaign.steps.all()}
        groups: dict = {}
        for s in steps.values():
            groups.setdefault((s.parent_id, s.branch), []).append(s.position)
            parent_step = steps.get(s.parent_id)
            assert s.parent_id is None or parent_step is not None
            allowed = services.BRANCHES[parent_step.step_kind] if parent_step else ("",)
            assert s.branch in allowed
        for positions in groups.values():
            assert sorted(positions) == list(range(len(positions)))
        for s in steps.values():  # no cycles: every step reaches a root
            seen, current = set(), s
            while current.parent_id is not None:
                assert current.pk not in seen
                seen.add(current.pk)
                current = steps[current.parent_id]

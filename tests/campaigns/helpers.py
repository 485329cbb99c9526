"""Building campaigns for the tests: a segment audience and a tree from nested tuples."""

from __future__ import annotations

from liaison.campaigns import executor, services
from liaison.campaigns.models import Campaign, StepRun
from liaison.segments.models import Segment
from liaison.segments.services import add_static
from tests.factories import ContactFactory


def audience(*names: str, segment: Segment | None = None):
    """A segment whose members have these first names (one contact each); (segment, contacts)."""
    segment = segment or Segment.objects.create(name=f"Audience {Segment.objects.count() + 1}")
    contacts = [ContactFactory(first_name=name) for name in names]
    add_static(segment, [c.pk for c in contacts])  # members whatever the (empty) filters say
    return segment, contacts


def campaign(segment: Segment | None = None, steps=(), *, publish: bool = True, **data) -> Campaign:
    """``steps``: [(key, config, {extra}, {"yes": [...], "no": [...], "": [...]})...] (extra and children optional)."""
    if segment is not None:
        data.setdefault("audiences", [{"key": "segments.segment", "values": [str(segment.pk)]}])
    found = services.create_campaign({"name": data.pop("name", "Test campaign"), **data})
    add(found, steps, None, "")
    if publish:
        services.publish(found)
    return found


def add(found: Campaign, steps, parent, branch):
    for item in steps:
        key, config, *rest = item
        extra = rest[0] if rest else {}
        children = rest[1] if len(rest) > 1 else {}
        step = services.add_step(found, {"key": key, "config": config, "parent": parent and parent.pk,
                                         "branch": branch, **extra})
        for child_branch, child_steps in children.items():
            add(found, child_steps, step, child_branch)


def runs(found: Campaign, **filters):
    return StepRun.objects.filter(campaign=found, **filters)


def statuses(found: Campaign, step_key: str | None = None) -> dict[str, int]:
    counts: dict[str, int] = {}
    qs = runs(found) if step_key is None else runs(found, step__key=step_key)
    for status in qs.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def run(found: Campaign | None = None):
    return executor.run(found.pk if found else None)

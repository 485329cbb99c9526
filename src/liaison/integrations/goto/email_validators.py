"""GoTo's save-time rule for segment e-mails: join-link tokens need registered audiences.

A segment e-mail with ``{webinar_button}`` (or ``{webinar_link}``; ``{training_button}`` for
trainings) goes to many people at once; each needs a registration for the token to render
a join link. So every segment it targets must carry a "Registered for a webinar" filter
with an including operator that all members must match (at the top of the segment's
filters, or inside groups that all must match). Otherwise the e-mail is refused, naming
the segments lacking it (Mautic's rule, which only looked for any such filter).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from liaison.core.contributions import EmailValidator
from liaison.segments.models import Segment

SEGMENTS = "segments.segment"
INCLUDING = ("ever", "in_last_days", "in_between")
# token -> (product, filter key, what the message calls the filter)
TOKENS = {
    "webinar_button": ("webinar", "goto.webinar.registered", "Registered for a webinar"),
    "webinar_link": ("webinar", "goto.webinar.registered", "Registered for a webinar"),
    "training_button": ("training", "goto.training.registered", "Registered for a training"),
}


def requires_filter(tree: Mapping[str, Any] | None, key: str) -> bool:
    """True when every member must match an including condition on ``key``."""
    if not isinstance(tree, Mapping):
        return False
    rules = tree.get("rules") or []
    if "filter" in tree:
        return tree.get("filter") == key and tree.get("operator") in INCLUDING
    if tree.get("match", "all") == "all" or len(rules) == 1:
        return any(requires_filter(rule, key) for rule in rules)
    # "any": each branch must require it.
    return bool(rules) and all(requires_filter(rule, key) for rule in rules)


def check_registered_audiences(email) -> dict[str, list[str]]:
    if email.kind != "segment":
        return {}
    used = sorted({use.name for use in email.token_uses() if use.name in TOKENS})
    if not used:
        return {}
    targets = email.audience_targets()
    problems: list[str] = []
    others = [key for key, _ in targets if key != SEGMENTS]
    if others:
        problems.append(f"{{{used[0]}}} is a personal join link: send this e-mail to segments only (not to "
                        f"{', '.join(others)}).")
    ids = [int(v) for key, values in targets if key == SEGMENTS for v in values if str(v).isdigit()]
    segments = list(Segment.objects.filter(pk__in=ids).order_by("name").only("pk", "name", "filters"))
    for token in used:
        _, filter_key, label = TOKENS[token]
        lacking = [s.name for s in segments if not requires_filter(s.filters, filter_key)]
        if lacking:
            problems.append(
                f"{{{token}}} needs segments that each carry a “{label}” include filter (all members must match it); "
                f"{'this segment lacks' if len(lacking) == 1 else 'these segments lack'} it: {', '.join(lacking)}.")
    return {"audiences": problems} if problems else {}


def email_validators() -> list[EmailValidator]:
    return [EmailValidator(key="goto.registered_audiences", label="GoTo join links go to registered segments",
                           check=check_registered_audiences, field="audiences")]

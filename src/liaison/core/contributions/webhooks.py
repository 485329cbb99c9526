from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from liaison.core.contributions.base import Contribution


@dataclass(eq=False, repr=False)
class WebhookTopic(Contribution):
    """Something outgoing webhooks can be subscribed to (``liaison.webhooks``).

    ``key`` is what subscriptions store and what deliveries carry in ``X-Liaison-Event``
    (e.g. ``goto.training.created``). ``scope_label`` names what a subscription's scope
    narrows it to (e.g. "GoTo account or training"), empty when topics have no scope.
    ``example`` is a sample ``data`` list shown in the UI and sent by "Send a test".
    """

    kind: ClassVar[str] = "webhook_topic"
    key: str
    label: str
    description: str = ""
    group: str = "Liaison"
    scope_label: str = ""
    example: tuple = ()

"""What other apps (campaigns, points) subscribe to: GoTo's trigger events, after the commit.

Both signals are sent once per batch of new facts (one sync page, one webhook, one
registration made from Liaison), with ``sender=TriggerEvent``, only after the transaction
that stored the facts committed, and never twice for the same fact (see ``triggers``)::

    from liaison.integrations.goto.signals import event_created, registrant_added

    @receiver(registrant_added)
    def enroll(sender, *, integration_id, product, event_id, event_key, items, **kw):
        for item in items:            # one dict per new registration
            start_campaigns(item["contact_id"], ...)

``event_created(integration_id, product, items)``: a training or webinar appeared (upcoming
or live). Each item: ``trigger_id``, ``event_id`` (Liaison's id), ``event_key`` (GoTo's key),
``title``, ``starts_at``, ``payload`` (the connector's Training / Webinar object).

``registrant_added(integration_id, product, event_id, event_key, items)``: people registered
for one training or webinar (new, or registered again after a cancellation). Each item:
``trigger_id``, ``registration_id``, ``contact_id``, ``email``, ``status`` (approved /
waiting), ``source`` (sync, webhook, form, campaign, api), ``payload`` (the connector's
Registrant object).
"""

from django.dispatch import Signal

event_created = Signal()
registrant_added = Signal()

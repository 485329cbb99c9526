"""Hooks other apps listen to (points, campaign decisions), sent after the transaction commits.

Every signal is sent with ``sender=Send`` and these keyword arguments:

* ``email_sent``: ``email_id``, ``sends`` — ``[(send_id, contact_id, context), ...]`` for the
  messages one batch handed to the mail server;
* ``email_opened``: ``send_id, email_id, contact_id, context, first`` (``first``: the first
  open of this send);
* ``email_clicked``: ``send_id, email_id, contact_id, context, link, url, first`` (``first``:
  the first click on this link of this send; a click also counts as an open);
* ``email_unsubscribed``: ``send_id, email_id, contact_id, context``.

``context`` is the send's context (what the sender stored: campaign, step, form ...).
"""

from django.dispatch import Signal

email_sent = Signal()
email_opened = Signal()
email_clicked = Signal()
email_unsubscribed = Signal()

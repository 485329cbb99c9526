"""How deliveries are signed, and how a receiver checks them (docs/integrations/goto.md).

Each POST carries:

* ``X-Liaison-Event``: the topic (``goto.training.created``);
* ``X-Liaison-Delivery``: the delivery's id (the same for every attempt);
* ``X-Liaison-Timestamp``: when this attempt was signed, in Unix seconds;
* ``X-Liaison-Signature``: ``sha256=`` + the hex HMAC-SHA256, keyed with the subscription's
  secret, of ``<timestamp>.<raw body>``.

Signing the timestamp with the body means a captured delivery cannot be replayed later
under a fresh timestamp: a receiver recomputes the HMAC over the raw bytes it received,
compares in constant time, and refuses timestamps older than a few minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

EVENT_HEADER = "X-Liaison-Event"
DELIVERY_HEADER = "X-Liaison-Delivery"
TIMESTAMP_HEADER = "X-Liaison-Timestamp"
SIGNATURE_HEADER = "X-Liaison-Signature"
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signed_headers(secret: str, body: bytes, *, topic: str, delivery_id: int | str,
                   timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return {
        "Content-Type": "application/json",
        EVENT_HEADER: topic,
        DELIVERY_HEADER: str(delivery_id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, tolerance: int = TOLERANCE_SECONDS,
           now: float | None = None) -> str | None:
    """What a receiver does: None when the delivery is authentic and recent, else the reason."""
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    given = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not timestamp or not given:
        return "The delivery is not signed."
    if not timestamp.isdigit():
        return "The timestamp is not a number of seconds."
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        return "The timestamp is too old (a replayed or much delayed delivery)."
    if not hmac.compare_digest(signature(secret, timestamp, body), given):
        return "The signature does not match the secret."
    return None

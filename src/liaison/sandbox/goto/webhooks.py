"""GoToWebinar webhooks: secret keys, webhooks, user subscriptions and signed deliveries.

Delivery scheme (the public documentation names the ``x-webhook-signature`` header but
not the algorithm; this is the sandbox's documented choice, see docs/sandbox/goto.md):

* ``POST <callbackUrl>`` with ``Content-Type: application/json`` and the event object
  as body (``eventName``, ``eventVersion``, ``product``, ``eventKey``, ``timestamp``,
  then the event's fields; keys as JSON numbers);
* ``x-webhook-signature-timestamp: <epoch milliseconds>``;
* ``x-webhook-signature: base64(HMAC-SHA256(key=<secret key value, UTF-8>,
  msg=<timestamp> + ":" + <raw body>))``, with the application's newest secret key
  whose ``validFrom`` has passed.

Deliveries go through the injectable ``deliver(url, headers, body_bytes)`` callable,
after the API call's state lock is released; failures are logged in the delivery log
and never raised into the API call.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import itertools
import logging
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..common import Request, Response, Router, json_dumps, json_response, no_content
from .base import bad_request, epoch_ms, iso_ms, json_body, not_found, parse_time
from .state import SecretKey, UserSubscription, Webhook

if TYPE_CHECKING:
    from .app import GoToSandbox

log = logging.getLogger("liaison.sandbox.goto.webhooks")

G2W = "/G2W/rest/v2"
EVENTS = ("registrant.added", "registrant.joined", "webinar.created", "webinar.changed")
EVENT_VERSION = "1.0.0"
SIGNATURE_HEADER = "x-webhook-signature"
TIMESTAMP_HEADER = "x-webhook-signature-timestamp"

Deliver = Callable[[str, dict[str, str], bytes], "int | None"]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``x-webhook-signature`` value for ``body`` sent at ``timestamp`` (epoch ms)."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b":" + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Check a delivery the way a receiver should (header names are case-insensitive)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER)
    signature = lowered.get(SIGNATURE_HEADER)
    if not timestamp or not signature:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def urllib_deliver(timeout: float = 2.0) -> Deliver:
    """The default deliverer: a plain urllib POST with a short timeout."""

    def deliver(url: str, headers: dict[str, str], body: bytes) -> int:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - sandbox tool
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    return deliver


def urllib_probe(timeout: float = 2.0) -> Callable[[str], int]:
    """The default callback-URL check: a GET whose status must be 200."""

    def probe(url: str) -> int:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - sandbox tool
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    return probe


@dataclass
class Delivery:
    id: int
    at: datetime
    kind: str  # "webhook" | "g2a-callback"
    url: str
    event_name: str
    event_key: str | None
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    ok: bool = False
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": iso_ms(self.at),
            "kind": self.kind,
            "url": self.url,
            "eventName": self.event_name,
            "eventKey": self.event_key,
            "headers": self.headers,
            "body": self.body.decode("utf-8"),
            "status": self.status,
            "ok": self.ok,
            "error": self.error,
        }


class DeliveryLog:
    """What was (or failed to be) delivered, most recent last."""

    def __init__(self, maxlen: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._items: collections.deque[Delivery] = collections.deque(maxlen=maxlen)

    def add(self, delivery: Delivery) -> None:
        with self._lock:
            self._items.append(delivery)

    def all(self) -> list[Delivery]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class _Unit:
    jobs: list[Delivery] = field(default_factory=list)


class WebhookDispatcher:
    """Builds, signs, queues and delivers webhook events and G2A status callbacks."""

    def __init__(self, sandbox: GoToSandbox, deliver: Deliver | None) -> None:
        self.sb = sandbox
        self.deliver = deliver or urllib_deliver(sandbox.settings.delivery_timeout)
        self.log = DeliveryLog()
        self._ids = itertools.count(1)
        self._tl = threading.local()

    # -- units of work -------------------------------------------------------
    def begin(self) -> bool:
        """Start collecting deliveries; False if a unit is already open (nested call)."""
        if getattr(self._tl, "unit", None) is not None:
            return False
        self._tl.unit = _Unit()
        return True

    def end(self) -> list[Delivery]:
        unit = getattr(self._tl, "unit", None)
        self._tl.unit = None
        return unit.jobs if unit else []

    def _queue(self, job: Delivery) -> None:
        unit = getattr(self._tl, "unit", None)
        if unit is None:
            self.flush([job])
        else:
            unit.jobs.append(job)

    def flush(self, jobs: list[Delivery]) -> None:
        for job in jobs:
            try:
                status = self.deliver(job.url, dict(job.headers), job.body)
                job.status = status
                job.ok = status is None or 200 <= int(status) < 300
                if not job.ok:
                    job.error = f"HTTP {status}"
            except Exception as exc:  # noqa: BLE001 - a delivery must never break the API call
                job.error = f"{type(exc).__name__}: {exc}"
                log.warning("GoTo sandbox: delivery of %s to %s failed: %s", job.event_name, job.url, job.error)
            self.log.add(job)

    # -- secret keys -----------------------------------------------------------
    def active_secret(self, client_id: str, now: datetime) -> SecretKey | None:
        candidates = [k for k in self.sb.state.secret_keys if k.client_id == client_id and k.valid_from <= now]
        return max(candidates, key=lambda k: (k.valid_from, k.id)) if candidates else None

    # -- events ------------------------------------------------------------------
    def emit(self, event_name: str, organizer_key: int, data: dict[str, Any]) -> int:
        """Queue ``event_name`` for every active subscription of ``organizer_key``."""
        state = self.sb.state
        now = self.sb.now()
        count = 0
        for sub in state.user_subscriptions.values():
            if sub.organizer_key != organizer_key or sub.state != "ACTIVE":
                continue
            hook = state.webhooks.get(sub.webhook_key)
            if hook is None or hook.state != "ACTIVE" or hook.event_name != event_name:
                continue
            event_key = str(uuid.UUID(int=state.rng.getrandbits(128), version=4))
            payload = {
                "eventName": event_name,
                "eventVersion": hook.event_version,
                "product": hook.product,
                "eventKey": event_key,
                "timestamp": iso_ms(now),
                **data,
            }
            body = json_dumps(payload)
            timestamp = str(epoch_ms(now))
            headers = {"Content-Type": "application/json", "User-Agent": "GoTo-Webhooks-Sandbox/1.0"}
            secret = self.active_secret(hook.client_id, now)
            if secret is not None:
                headers[TIMESTAMP_HEADER] = timestamp
                headers[SIGNATURE_HEADER] = sign(secret.value, timestamp, body)
            self._queue(
                Delivery(next(self._ids), now, "webhook", sub.callback_url or hook.callback_url, event_name,
                         event_key, headers, body)
            )
            count += 1
        return count

    def callback(self, url: str, event_name: str, payload: dict[str, Any]) -> None:
        """An unsigned POST of ``payload`` (GoToAssist ``sessionStatusCallbackUrl``)."""
        now = self.sb.now()
        headers = {"Content-Type": "application/json", "User-Agent": "GoTo-Webhooks-Sandbox/1.0"}
        self._queue(Delivery(next(self._ids), now, "g2a-callback", url, event_name, None, headers,
                             json_dumps(payload)))


# ---------------------------------------------------------------------------
# HTTP API


def _webhook_json(hook: Webhook) -> dict[str, Any]:
    return {
        "callbackUrl": hook.callback_url,
        "eventName": hook.event_name,
        "eventVersion": hook.event_version,
        "product": hook.product,
        "webhookKey": hook.webhook_key,
        "state": hook.state,
        "createTime": iso_ms(hook.created_at),
    }


def register(sb: GoToSandbox, router: Router) -> None:
    state_of = lambda: sb.state  # noqa: E731 - the state object is replaced on reset

    def client_of(req: Request) -> str:
        return req.context["token"].client_id

    def check_callback(url: Any) -> str:
        if not isinstance(url, str) or not url:
            raise bad_request("callbackUrl is required.")
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise bad_request(f"callbackUrl '{url}' is not a valid URL.")
        if parts.scheme == "http" and sb.settings.webhook_https_only:
            if (parts.hostname or "") not in sb.settings.webhook_http_hosts:
                raise bad_request("callbackUrl must be an https URL.")
        if sb.settings.validate_callback_urls:
            try:
                status = sb.probe(url)
            except Exception as exc:  # noqa: BLE001
                raise bad_request(f"callbackUrl validation failed: {exc}") from None
            if status != 200:
                raise bad_request(f"callbackUrl validation failed: GET answered {status}, expected 200.")
        return url

    def check_product(req: Request) -> None:
        product = req.arg("product")
        if product is None:
            raise bad_request("Required request parameter 'product' is not present.")
        if product != "g2w":
            raise bad_request(f"Unsupported product '{product}'.")

    def sub_json(sub: UserSubscription) -> dict[str, Any]:
        hook = state_of().webhooks.get(sub.webhook_key)
        active = hook is not None and hook.state == "ACTIVE" and sub.state == "ACTIVE"
        return {
            "callbackUrl": sub.callback_url or (hook.callback_url if hook else None),
            "eventName": hook.event_name if hook else None,
            "eventVersion": hook.event_version if hook else None,
            "product": hook.product if hook else "g2w",
            "webhookKey": sub.webhook_key,
            "userSubscriptionKey": sub.user_subscription_key,
            "userSubscriptionState": sub.state,
            "activationState": "ACTIVE" if active else "INACTIVE",
            "createTime": iso_ms(sub.created_at),
        }

    def new_uuid() -> str:
        return str(uuid.UUID(int=state_of().rng.getrandbits(128), version=4))

    def create_secret(req: Request) -> Response:
        data = json_body(req, dict) if req.body.strip() else {}
        now = sb.now()
        valid_from = now
        if data.get("validFrom") is not None:
            try:
                valid_from = parse_time(data["validFrom"])
            except ValueError:
                raise bad_request("validFrom must be an ISO-8601 date-time.") from None
        state = state_of()
        key = SecretKey(len(state.secret_keys) + 1, new_uuid(), valid_from, client_of(req))
        state.secret_keys.append(key)
        return json_response({"id": key.id, "value": key.value, "validFrom": iso_ms(key.valid_from)})

    def create_webhooks(req: Request) -> Response:
        items = json_body(req, list)
        if not items:
            raise bad_request("At least one webhook is required.")
        state = state_of()
        client_id = client_of(req)
        if not any(k.client_id == client_id for k in state.secret_keys):
            raise bad_request("Create a secret key (POST /webhooks/secretkey) before creating webhooks.")
        created = []
        for item in items:
            if not isinstance(item, dict):
                raise bad_request("Each webhook must be a JSON object.")
            url = check_callback(item.get("callbackUrl"))
            event = item.get("eventName")
            if event not in EVENTS:
                raise bad_request(f"Unsupported eventName '{event}'. Supported: {', '.join(EVENTS)}.")
            if item.get("eventVersion") != EVENT_VERSION:
                raise bad_request(f"Unsupported eventVersion '{item.get('eventVersion')}'; use {EVENT_VERSION}.")
            if item.get("product") != "g2w":
                raise bad_request("product must be 'g2w'.")
            created.append(Webhook(new_uuid(), client_id, url, event, EVENT_VERSION, "g2w", "INACTIVE", sb.now()))
        for hook in created:
            state.webhooks[hook.webhook_key] = hook
        return json_response({"_embedded": {"webhooks": [_webhook_json(h) for h in created]}})

    def own_webhook(req: Request, key: str) -> Webhook:
        hook = state_of().webhooks.get(key)
        if hook is None or hook.client_id != client_of(req):
            raise not_found(f"Webhook '{key}' was not found.")
        return hook

    def update_webhooks(req: Request) -> Response:
        items = json_body(req, list)
        updates = []
        for item in items:
            if not isinstance(item, dict) or not item.get("webhookKey"):
                raise bad_request("Each update needs a webhookKey.")
            hook = own_webhook(req, str(item["webhookKey"]))
            url = check_callback(item["callbackUrl"]) if item.get("callbackUrl") is not None else None
            new_state = item.get("state")
            if new_state is not None and new_state not in ("ACTIVE", "INACTIVE"):
                raise bad_request("state must be ACTIVE or INACTIVE.")
            updates.append((hook, url, new_state))
        for hook, url, new_state in updates:
            if url:
                hook.callback_url = url
            if new_state:
                hook.state = new_state
        return no_content(204)

    def list_webhooks(req: Request) -> Response:
        check_product(req)
        client_id = client_of(req)
        hooks = [h for h in state_of().webhooks.values() if h.client_id == client_id]
        return json_response({"_embedded": {"webhooks": [_webhook_json(h) for h in hooks]}})

    def delete_webhooks(req: Request) -> Response:
        keys = json_body(req, list)
        hooks = [own_webhook(req, str(key)) for key in keys]
        state = state_of()
        for hook in hooks:
            state.webhooks.pop(hook.webhook_key, None)
            for sub_key in [k for k, s in state.user_subscriptions.items() if s.webhook_key == hook.webhook_key]:
                del state.user_subscriptions[sub_key]
        return no_content(202)

    def get_webhook(req: Request, webhookKey: str) -> Response:
        return json_response(_webhook_json(own_webhook(req, webhookKey)))

    def create_subscriptions(req: Request) -> Response:
        items = json_body(req, list)
        if not items:
            raise bad_request("At least one user subscription is required.")
        user = req.context["user"]
        state = state_of()
        created = []
        for item in items:
            if not isinstance(item, dict) or not item.get("webhookKey"):
                raise bad_request("Each user subscription needs a webhookKey.")
            hook = state.webhooks.get(str(item["webhookKey"]))
            if hook is None:
                raise not_found(f"Webhook '{item['webhookKey']}' was not found.")
            url = check_callback(item["callbackUrl"]) if item.get("callbackUrl") else None
            sub_state = item.get("userSubscriptionState", "ACTIVE")
            if sub_state not in ("ACTIVE", "INACTIVE"):
                raise bad_request("userSubscriptionState must be ACTIVE or INACTIVE.")
            created.append(UserSubscription(new_uuid(), hook.webhook_key, user.organizer_key, url, sub_state,
                                            sb.now()))
        for sub in created:
            state.user_subscriptions[sub.user_subscription_key] = sub
        return json_response({"_embedded": {"userSubscriptions": [sub_json(s) for s in created]}})

    def own_subscription(req: Request, key: str) -> UserSubscription:
        sub = state_of().user_subscriptions.get(key)
        if sub is None or sub.organizer_key != req.context["user"].organizer_key:
            raise not_found(f"User subscription '{key}' was not found.")
        return sub

    def update_subscriptions(req: Request) -> Response:
        items = json_body(req, list)
        updates = []
        for item in items:
            if not isinstance(item, dict) or not item.get("userSubscriptionKey") or not item.get("webhookKey"):
                raise bad_request("Each update needs a webhookKey and a userSubscriptionKey.")
            sub = own_subscription(req, str(item["userSubscriptionKey"]))
            if sub.webhook_key != str(item["webhookKey"]):
                raise bad_request("webhookKey does not match the user subscription.")
            url = check_callback(item["callbackUrl"]) if item.get("callbackUrl") else None
            new_state = item.get("userSubscriptionState")
            if new_state is not None and new_state not in ("ACTIVE", "INACTIVE"):
                raise bad_request("userSubscriptionState must be ACTIVE or INACTIVE.")
            updates.append((sub, url, new_state))
        for sub, url, new_state in updates:
            if url:
                sub.callback_url = url
            if new_state:
                sub.state = new_state
        return no_content(204)

    def list_subscriptions(req: Request) -> Response:
        check_product(req)
        user = req.context["user"]
        subs = [s for s in state_of().user_subscriptions.values() if s.organizer_key == user.organizer_key]
        return json_response({"_embedded": {"userSubscriptions": [sub_json(s) for s in subs]}})

    def delete_subscriptions(req: Request) -> Response:
        keys = json_body(req, list)
        subs = [own_subscription(req, str(key)) for key in keys]
        for sub in subs:
            state_of().user_subscriptions.pop(sub.user_subscription_key, None)
        return no_content(202)

    def get_subscription(req: Request, userSubscriptionsKey: str) -> Response:
        return json_response(sub_json(own_subscription(req, userSubscriptionsKey)))

    router.add("POST", f"{G2W}/webhooks/secretkey", create_secret)
    router.add("POST", f"{G2W}/webhooks", create_webhooks)
    router.add("PUT", f"{G2W}/webhooks", update_webhooks)
    router.add("GET", f"{G2W}/webhooks", list_webhooks)
    router.add("DELETE", f"{G2W}/webhooks", delete_webhooks)
    router.add("GET", f"{G2W}/webhooks/{{webhookKey}}", get_webhook)
    router.add("POST", f"{G2W}/userSubscriptions", create_subscriptions)
    router.add("PUT", f"{G2W}/userSubscriptions", update_subscriptions)
    router.add("GET", f"{G2W}/userSubscriptions", list_subscriptions)
    router.add("DELETE", f"{G2W}/userSubscriptions", delete_subscriptions)
    router.add("GET", f"{G2W}/userSubscriptions/{{userSubscriptionsKey}}", get_subscription)

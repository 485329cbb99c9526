"""GoToAssist rules: tell someone, by e-mail or webhook, when a support session is rated at or
below N, when one is left unresolved, or when the waiting queue reaches N customers.

* Session rules are evaluated where sessions are stored (``facts.store_assist_sessions``),
  for the sessions whose outcome (status, rating, resolution) that import brought, and only
  for sessions that ended at most a day before the rule existed: a new rule does not
  report last year. Each rule notifies once per session (``AssistNotification`` is unique
  on (rule, occurrence)), so re-imports and overlapping syncs notify nothing more.
* Waiting-queue rules are evaluated by a job scheduled every minute while one is active
  (the "GoToAssist waiting-queue alerts" schedule, switched on and off with the rules). A
  rule notifies when the count reaches its threshold, then not again until the count fell
  below it: once per crossing. A rule without an account counts the customers waiting
  on every account.
* E-mails go through Django's mail backend from a job (retried while the mail server is
  unreachable); webhooks through ``liaison.webhooks`` (signed, retried, logged), to the
  rule's own subscription (topic ``goto.assist.alert``).
"""

from __future__ import annotations

import smtplib
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from liaison.core import jobs, schedules
from liaison.core.errors import RetryableError, ValidationFailed
from liaison.integrations.goto.models import AssistNotification, AssistRule, AssistSession
from liaison.integrations.models import Integration

NOTIFY_JOB = "goto.assist_notify"
WAITING_JOB = "goto.assist_waiting"
WAITING_SCHEDULE = "GoToAssist waiting-queue alerts"
ALERT_TOPIC = "goto.assist.alert"
WEBHOOK_OWNER = "goto.assist_rules"
LOOKBACK = timedelta(days=1)
FINAL = ("complete", "abandoned")
Kind, Channel = AssistRule.Kind, AssistRule.Channel


# -- rules ---------------------------------------------------------------------------------------------------

def clean(data: Mapping[str, Any], rule: AssistRule | None = None) -> dict[str, Any]:
    """The rule's fields, checked; every problem next to its field."""
    from liaison.users.models import User

    merged = {"name": rule.name, "integration": rule.integration_id, "kind": rule.kind, "threshold": rule.threshold,
              "channel": rule.channel, "email": rule.email, "user": rule.user_id,
              "webhook_url": rule.webhook.url if rule and rule.webhook_id and rule.webhook else "",
              "active": rule.active} if rule else {"active": True, "channel": Channel.EMAIL}
    merged.update({k: v for k, v in data.items() if v is not None or k in ("integration", "user")})
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {"name": " ".join(str(merged.get("name") or "").split())[:200],
                           "active": bool(merged.get("active", True))}
    if not out["name"]:
        errors["name"] = ["Give the rule a name, e.g. “Low ratings to the support lead”."]
    kind = merged.get("kind")
    if kind not in Kind.values:
        errors["kind"] = ["Choose what the rule watches: a low rating, an unresolved session or the waiting queue."]
    out["kind"] = kind
    threshold = merged.get("threshold")
    try:
        threshold = None if threshold in (None, "") else int(threshold)
    except (TypeError, ValueError):
        errors["threshold"] = ["Give a whole number."]
        threshold = None
    if kind == Kind.LOW_RATING and not (threshold and 1 <= threshold <= 5):
        errors.setdefault("threshold", ["Give the rating at or below which to notify, from 1 to 5."])
    elif kind == Kind.WAITING and not (threshold and 1 <= threshold <= 10000):
        errors.setdefault("threshold", ["Give the number of waiting customers that raises the alert (1 or more)."])
    out["threshold"] = threshold if kind in (Kind.LOW_RATING, Kind.WAITING) else None
    integration_id = merged.get("integration") or None
    out["integration"] = None
    if integration_id:
        out["integration"] = Integration.objects.filter(pk=integration_id, spec_key="goto").first()
        if out["integration"] is None:
            errors["integration"] = ["Choose one of the GoTo accounts, or none for every account."]
    channel = merged.get("channel")
    out.update(channel=channel, email="", user=None, webhook_url="")
    if channel == Channel.EMAIL:
        email = str(merged.get("email") or "").strip()
        user_id = merged.get("user") or None
        if email:
            try:
                validate_email(email)
            except ValidationError:
                errors["email"] = [f"“{email}” is not an e-mail address."]
            out["email"] = email
        elif user_id:
            out["user"] = User.objects.filter(pk=user_id, is_active=True).exclude(email="").first()
            if out["user"] is None:
                errors["user"] = ["Choose an active user with an e-mail address."]
        else:
            errors["email"] = ["Give the address to notify, or choose a user."]
    elif channel == Channel.WEBHOOK:
        from liaison.webhooks.services import clean_url

        try:
            out["webhook_url"] = clean_url(str(merged.get("webhook_url") or ""))
        except ValidationFailed as exc:
            errors["webhook_url"] = exc.errors["url"]
    else:
        errors["channel"] = ["Notify by e-mail or by webhook."]
    if errors:
        raise ValidationFailed(errors)
    return out


def save_rule(data: Mapping[str, Any], rule: AssistRule | None = None, *, user=None
              ) -> tuple[AssistRule, str | None]:
    """Create or change a rule; returns it and, when a new webhook subscription was made for it,
    that subscription's signing secret (to give to the receiver)."""
    from liaison.webhooks import services as webhooks

    values = clean(data, rule)
    secret = None
    now = timezone.now()
    with transaction.atomic():
        previous = rule.webhook if rule and rule.webhook_id else None
        subscription = None
        if values["channel"] == Channel.WEBHOOK:
            subscription, created = webhooks.create_subscription(
                topic=ALERT_TOPIC, url=values["webhook_url"], owner=WEBHOOK_OWNER, user=user,
                name="GoToAssist rules")
            secret = subscription.secret if created else None
        fields = {"name": values["name"], "integration": values["integration"], "kind": values["kind"],
                  "threshold": values["threshold"], "channel": values["channel"], "email": values["email"],
                  "user": values["user"], "webhook": subscription, "active": values["active"], "updated_at": now}
        if rule is None:
            rule = AssistRule.objects.create(created_by=user if getattr(user, "is_authenticated", False) else None,
                                             created_at=now, **fields)
        else:
            if (rule.kind, rule.threshold) != (fields["kind"], fields["threshold"]):
                fields.update(above=False, last_count=None)  # a new condition starts below its threshold
            for name, value in fields.items():
                setattr(rule, name, value)
            rule.save()
        if previous is not None and previous != subscription:
            _drop_unused(previous)
        sync_waiting_schedule()
    return rule, secret


def delete_rule(rule: AssistRule) -> None:
    with transaction.atomic():
        subscription = rule.webhook
        rule.delete()
        if subscription is not None:
            _drop_unused(subscription)
        sync_waiting_schedule()


def _drop_unused(subscription) -> None:
    """A rules' webhook subscription no rule uses any more goes (with its log)."""
    if subscription.owner == WEBHOOK_OWNER and not AssistRule.objects.filter(webhook=subscription).exists():
        subscription.delete()


def sync_waiting_schedule() -> None:
    """Check the queue every minute while an active waiting-queue rule exists, not otherwise."""
    schedules.upsert_schedule(WAITING_SCHEDULE, WAITING_JOB, "* * * * *", owner_key="goto.assist",
                              enabled=AssistRule.objects.filter(active=True, kind=Kind.WAITING).exists())


def rules_for(integration: Integration, kinds) -> list[AssistRule]:
    return list(AssistRule.objects.filter(active=True, kind__in=kinds)
                .filter(Q(integration=integration) | Q(integration__isnull=True))
                .select_related("webhook", "user"))


# -- session rules ---------------------------------------------------------------------------------------------

def matches(rule: AssistRule, session: AssistSession) -> bool:
    if session.status not in FINAL:
        return False
    ended = session.ended_at or session.started_at or session.first_seen_at
    if ended < rule.created_at - LOOKBACK:
        return False
    if rule.kind == Kind.LOW_RATING:
        return session.rating is not None and session.rating <= (rule.threshold or 0)
    return rule.kind == Kind.UNRESOLVED and session.resolution.lower() == "unresolved"


def sessions_imported(integration: Integration, session_ids: list[str], now: datetime) -> int:
    """Evaluate the session rules (inside the transaction storing the sessions)."""
    rules = rules_for(integration, (Kind.LOW_RATING, Kind.UNRESOLVED))
    if not rules:
        return 0
    sessions = list(AssistSession.objects.filter(integration=integration, session_id__in=session_ids,
                                                 status__in=FINAL).select_related("contact"))
    found = [(rule, session) for rule in rules for session in sessions if matches(rule, session)]
    return len(notify([_session_notice(integration, rule, session) for rule, session in found]))


def _session_notice(integration: Integration, rule: AssistRule, session: AssistSession) -> dict[str, Any]:
    customer = session.customer_name or session.customer_email or "a customer"
    if rule.kind == Kind.LOW_RATING:
        what = f"rated {session.rating}/5"
    else:
        what = "left unresolved"
    subject = f"GoToAssist: {customer}'s support session was {what}"
    base = settings.LIAISON_BASE_URL
    lines = [f"Rule “{rule.name}” ({rule.condition}) on “{integration.name}”.", "",
             f"Session: {session.session_id}", f"Customer: {customer}"
             + (f" <{session.customer_email}>" if session.customer_email else ""),
             f"Agent: {session.expert_name or 'unknown'}", f"Portal: {session.portal or '—'}",
             f"Started: {facts_iso(session.started_at)}", f"Ended: {facts_iso(session.ended_at)}",
             f"Resolution: {session.resolution or '—'}",
             f"Rating: {session.rating if session.rating is not None else '—'}",
             f"Feedback: {session.feedback or '—'}"]
    if session.recording_url:
        lines.append(f"Replay: {session.recording_url}")
    if session.contact_id:
        lines.append(f"Contact: {base}{reverse('contacts:detail', args=[session.contact_id])}")
    lines.append(f"Report: {base}{reverse('integrations:goto:assist_report')}?q={session.session_id}")
    payload = {"rule": _rule_json(rule), "account": {"id": integration.pk, "name": integration.name},
               "session": {"sessionId": session.session_id, "status": session.status,
                           "agent": session.expert_name, "portal": session.portal, "customer": session.customer_name,
                           "customerEmail": session.customer_email, "contactId": session.contact_id,
                           "startedAt": facts_iso(session.started_at), "endedAt": facts_iso(session.ended_at),
                           "durationSeconds": session.duration_seconds, "resolution": session.resolution,
                           "rating": session.rating, "feedback": session.feedback,
                           "customFields": session.custom_fields or {}, "replayUrl": session.recording_url}}
    return {"rule": rule, "occurrence": f"session:{integration.pk}:{session.session_id}", "session": session,
            "subject": subject[:300], "body": "\n".join(lines), "payload": payload}


def facts_iso(moment: datetime | None) -> str:
    return moment.isoformat().replace("+00:00", "Z") if moment else ""


def _rule_json(rule: AssistRule) -> dict[str, Any]:
    return {"id": rule.pk, "name": rule.name, "kind": rule.kind, "threshold": rule.threshold}


# -- notifying ---------------------------------------------------------------------------------------------------

def notify(notices: list[dict[str, Any]]) -> list[AssistNotification]:
    """Record notifications (once per rule and occurrence) and send the new ones."""
    if not notices:
        return []
    from liaison.webhooks.services import publish

    claim = uuid.uuid4().hex
    now = timezone.now()
    AssistNotification.objects.bulk_create([AssistNotification(
        rule=n["rule"], occurrence=n["occurrence"], session=n.get("session"), channel=n["rule"].channel,
        recipient=n["rule"].recipient[:500], subject=n["subject"], body=n["body"], claim=claim, created_at=now)
        for n in notices], ignore_conflicts=True)
    fresh = list(AssistNotification.objects.filter(claim=claim).select_related("rule", "rule__webhook"))
    payloads = {(n["rule"].pk, n["occurrence"]): n["payload"] for n in notices}
    for notification in fresh:
        rule = notification.rule
        if rule.channel == Channel.WEBHOOK:
            if rule.webhook is None or not rule.webhook.active:
                _failed(notification, "The rule's webhook subscription is turned off or was deleted.")
                continue
            [delivery] = publish(ALERT_TOPIC, [payloads[(rule.pk, notification.occurrence)]],
                                 event_id=f"goto.assist.rule:{rule.pk}:{notification.occurrence}",
                                 subscriptions=[rule.webhook]) or [None]
            AssistNotification.objects.filter(pk=notification.pk).update(delivery=delivery, sent_at=now,
                                                                        status=AssistNotification.Status.SENT)
        else:
            jobs.enqueue(NOTIFY_JOB, {"notification_id": notification.pk},
                         label=f"Notify {notification.recipient}: {notification.subject}"[:300])
    return fresh


def _failed(notification: AssistNotification, error: str) -> None:
    AssistNotification.objects.filter(pk=notification.pk).update(status=AssistNotification.Status.FAILED,
                                                                error=error[:2000])


def run_notify(ctx, notification_id: int) -> str:
    """The ``goto.assist_notify`` job: one e-mail, retried while the mail server cannot take it."""
    notification = AssistNotification.objects.filter(pk=notification_id).first()
    if notification is None or notification.status == AssistNotification.Status.SENT:
        return "nothing to do"
    if not notification.recipient:
        _failed(notification, "The rule has no address to write to (its user has none).")
        return "failed"
    try:
        send_mail(notification.subject, notification.body, None, [notification.recipient], fail_silently=False)
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
        _failed(notification, f"The mail server refused the message: {exc}")
        return "failed"
    except (smtplib.SMTPException, OSError) as exc:
        message = f"The mail server could not take the notification: {exc}"
        if ctx is not None and ctx.job.attempts >= ctx.job.max_attempts:
            _failed(notification, message)
            return "failed"
        raise RetryableError(message) from exc
    AssistNotification.objects.filter(pk=notification.pk).update(status=AssistNotification.Status.SENT,
                                                                sent_at=timezone.now(), error="")
    return "sent"


# -- the waiting queue --------------------------------------------------------------------------------------------

def check_waiting(ctx=None) -> dict[str, Any]:
    """The ``goto.assist_waiting`` job: compare each waiting-queue rule with the queue now."""
    from liaison.integrations.goto import support

    rules = list(AssistRule.objects.filter(active=True, kind=Kind.WAITING).select_related("integration", "webhook",
                                                                                          "user"))
    counts: dict[int, int] = {}
    problems: list[str] = []
    for integration in support.assist_accounts():
        if not any(r.integration_id in (None, integration.pk) for r in rules):
            continue
        if "waitingQueue" not in support.capabilities(integration):
            problems.append(support.missing_sentence(integration, "waitingQueue"))
            continue
        snapshot = support.monitor(integration, refresh=True)  # a fresh read (it refreshes the monitor's cache)
        if snapshot["error"] or snapshot["queue"] is None:
            problems.append(f"“{integration.name}”: {snapshot['error'] or 'no queue read'}")
            continue
        counts[integration.pk] = snapshot["queue"].waiting_count
    now = timezone.now()
    fired = []
    for rule in rules:
        accounts = [rule.integration_id] if rule.integration_id else list(counts)
        if not any(a in counts for a in accounts):
            continue
        count = sum(counts.get(a, 0) for a in accounts)
        if count >= (rule.threshold or 0):
            # One notification per crossing: only the update that flips "above" notifies.
            if AssistRule.objects.filter(pk=rule.pk, above=False).update(
                    above=True, crossings=F("crossings") + 1, last_count=count, last_checked_at=now):
                rule.refresh_from_db()
                fired.append(_waiting_notice(rule, count, accounts))
                continue
        else:
            AssistRule.objects.filter(pk=rule.pk, above=True).update(above=False)
        AssistRule.objects.filter(pk=rule.pk).update(last_count=count, last_checked_at=now)
    with transaction.atomic():
        sent = notify(fired)
    for problem in problems:
        if ctx is not None:
            ctx.log(problem)
    return {"rules": len(rules), "notified": len(sent), "counts": counts, "problems": problems}


def _waiting_notice(rule: AssistRule, count: int, accounts: list[int]) -> dict[str, Any]:
    where = rule.integration.name if rule.integration_id else "all GoTo accounts"
    subject = f"GoToAssist: {count} customers waiting ({where})"
    base = settings.LIAISON_BASE_URL
    lines = [f"Rule “{rule.name}” ({rule.condition}) on {where}.", "", f"Customers waiting now: {count}."]
    for account in accounts:
        lines.append(f"Monitor: {base}{reverse('integrations:goto:assist_monitor', args=[account])}")
    payload = {"rule": _rule_json(rule), "queue": {"waitingCount": count, "accounts": accounts,
                                                   "crossing": rule.crossings}}
    return {"rule": rule, "occurrence": f"crossing:{rule.crossings}", "subject": subject[:300],
            "body": "\n".join(lines), "payload": payload}

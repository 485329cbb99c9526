"""E-mails: saving with validation, previews, sending (exactly once), tracking, unsubscribing.

Sending never happens in a web request: ``send_email`` queues a ``Send`` and a job on the
``mail`` queue; the job calls ``deliver``.

Exactly-once delivery (``deliver``), per batch:

1. claim: ``UPDATE send SET status='sending', claim=<owner:random> WHERE id IN (...) AND
   status='queued'`` — a send is claimed by one batch only, whatever runs concurrently;
2. render the batch, store subjects, links, token values and Message-IDs (one bulk write);
3. hand the messages to the mail server over one connection; right after the server
   accepts one, its row becomes ``sent`` (the commit point: one UPDATE by primary key per
   SMTP transaction);
4. refusals are ``failed`` with the server's words; temporary refusals and messages never
   attempted go back to ``queued`` and the job retries them.

A crash can only leave sends in ``sending``. Whether the server accepted the last one
cannot be known, so recovery (``recover_interrupted``) marks them ``failed`` with the
reason "interrupted while sending": a contact may miss a message, but never gets one
twice (at most once). Every message also carries a Message-ID derived from its send,
so the rare duplicate a receiver could see would carry the same id.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from liaison.contacts.fields import validate_email
from liaison.contacts.models import Contact, normalize_email
from liaison.contacts.services import ActivityInput, record_activities, set_do_not_contact
from liaison.core import events, jobs
from liaison.core.bulk import update_rows
from liaison.core.contributions import Audience, EmailValidator
from liaison.core.errors import LiaisonError, RetryableError, ValidationFailed
from liaison.core.models import Job
from liaison.core.registry import registry
from liaison.emails import signals
from liaison.emails.models import Click, Email, EmailAudience, EmailContent, Send, new_send_token
from liaison.emails.rendering import RenderedMessage, Renderer, base_url
from liaison.emails.tokens import TokenFailure, check_tokens

logger = logging.getLogger(__name__)

CHUNK = 1000
INTERRUPTED = ("Interrupted while sending: the mail server may or may not have accepted it, so it is not sent "
               "again (a contact never gets a message twice).")
UNDO_WINDOW = timedelta(minutes=10)
# A running batch refreshes its claim this often; recovery waits LIAISON_EMAIL_INTERRUPTED_AFTER.
CLAIM_HEARTBEAT_SECONDS = 60
TEXT_LIMITS = {"name": 200, "subject": 255, "from_name": 100, "category": 100}


# -- saving -------------------------------------------------------------------------------

def _clean_address(value: str, field_name: str, errors: dict[str, list[str]]) -> str:
    value = (value or "").strip()
    if value:
        try:
            validate_email(value)
        except ValidationError:
            errors.setdefault(field_name, []).append(f"{value!r} is not a valid e-mail address.")
    return value


def validation_problems(email: Email) -> dict[str, list[str]]:
    """Token problems and every registered ``EmailValidator``'s, per field."""
    errors = check_tokens(email)
    for validator in registry.all(EmailValidator):
        for name, messages in validator.problems(email).items():
            errors.setdefault(name, []).extend(messages)
    return errors


def save_email(data: Mapping[str, Any], *, email: Email | None = None, user=None,
               relations: Callable[[Email], None] | None = None) -> Email:
    """Create or change an e-mail; only the keys present in ``data`` change.

    Field values are checked first; then, inside one transaction, the e-mail is written,
    ``relations(email)`` (if given) writes related rows (e.g. its segments), tokens and
    the registered validators are checked against what was written, and any problem
    rolls it all back with ``ValidationFailed({field: [messages]})``.
    """
    creating = email is None
    email = email or Email(created_by=user if getattr(user, "is_authenticated", False) else None)
    errors: dict[str, list[str]] = {}
    for name in ("name", "subject", "html", "text", "from_name", "category"):
        if name in data or creating:
            value = data.get(name)
            value = "" if value is None else str(value)
            value = value.strip() if name not in ("html", "text") else value
            if name in ("subject", "from_name") and ("\n" in value or "\r" in value):
                errors.setdefault(name, []).append("Write it on one line.")
            limit = TEXT_LIMITS.get(name)
            if limit and len(value) > limit:
                errors.setdefault(name, []).append(f"At most {limit} characters.")
            setattr(email, name, value)
    for name in ("from_email", "reply_to"):
        if name in data or creating:
            setattr(email, name, _clean_address(str(data.get(name) or ""), name, errors))
    if "kind" in data or creating:
        kind = data.get("kind") or Email.Kind.TEMPLATE
        if kind not in Email.Kind.values:
            errors.setdefault("kind", []).append("Choose a template e-mail or a segment e-mail.")
        else:
            email.kind = kind
    if "published" in data:
        published = data["published"]
        email.published = published if isinstance(published, bool) else str(published).lower() in (
            "1", "true", "yes", "on")
    targets = clean_audiences(data["audiences"], email.kind, errors) if "audiences" in data else None
    required = {"name": "Give the e-mail a name.", "subject": "Write a subject.", "html": "Write the HTML body."}
    for name, message in required.items():
        if not (getattr(email, name) or "").strip() and name not in errors:
            errors.setdefault(name, []).append(message)
    if errors:
        # Report the token problems too, so one round trip shows everything to fix.
        for name, messages in check_tokens(email).items():
            errors.setdefault(name, []).extend(messages)
        raise ValidationFailed(errors)
    email.updated_at = timezone.now()
    with transaction.atomic():
        email.save()
        if targets is not None or email.kind == Email.Kind.TEMPLATE:
            write_audiences(email, targets or [])
        if relations is not None:
            relations(email)
        problems = validation_problems(email)
        if problems:
            transaction.set_rollback(True)
            if creating:
                email.pk = None
            raise ValidationFailed(problems)
    return email


def clean_audiences(raw: Any, kind: str, errors: dict[str, list[str]]) -> list[tuple[str, list[str]]]:
    """``[{"audience": key, "values": [...]}]`` (or ``(key, values)`` pairs) checked against the
    registry: known audiences, existing groups; audiences without values are dropped."""
    targets: dict[str, list[str]] = {}
    for item in raw or []:
        if isinstance(item, Mapping):
            key, values = item.get("audience"), item.get("values")
        else:
            key, values = item
        values = [str(v).strip() for v in (values or []) if str(v).strip()]
        if not values:
            continue
        audience = registry.find(Audience, str(key or ""))
        if audience is None:
            errors.setdefault("audiences", []).append(f"{key!r} is not a known audience.")
            continue
        labels = audience.choice_labels(values)
        gone = [v for v in values if v not in labels]
        if gone:
            errors.setdefault("audiences", []).append(
                f"{audience.label}: {', '.join('#' + v for v in gone)} {'does' if len(gone) == 1 else 'do'} not exist.")
        targets.setdefault(audience.key, [])
        targets[audience.key] += [v for v in values if v not in targets[audience.key]]
    if targets and kind != Email.Kind.SEGMENT:
        errors.setdefault("audiences", []).append(
            "Only segment e-mails are sent to segments: make it a segment e-mail, or clear the segments.")
    return list(targets.items())


def write_audiences(email: Email, targets: list[tuple[str, list[str]]]) -> None:
    keys = [key for key, _ in targets]
    EmailAudience.objects.filter(email=email).exclude(audience__in=keys).delete()
    if targets:
        EmailAudience.objects.bulk_create([EmailAudience(email=email, audience=key, values=values)
                                           for key, values in targets],
                                          update_conflicts=True, unique_fields=["email", "audience"],
                                          update_fields=["values"])


def delete_email(email: Email) -> int:
    """Delete an e-mail with its send log; returns how many sends were removed."""
    count = email.sends.count()
    email.delete()
    return count


# -- rendering for people -------------------------------------------------------------------

def sample_contact() -> Contact:
    """An unsaved contact for previews when none is chosen."""
    return Contact(email="alex.sample@example.com", email_key="alex.sample@example.com", first_name="Alex",
                   last_name="Sample", position="Head of Marketing", city="Lyon", country="France")


@dataclass
class Preview:
    subject: str
    html: str
    text: str
    problems: dict[str, list[str]]
    notes: list[str]
    skip_reason: str = ""


def preview(email: Email, contact: Contact | None = None) -> Preview:
    """The message as ``contact`` (or a sample contact) would get it, without tracking.

    Token problems (unknown tokens, bad parameters) are reported instead of raised, so
    the editor can preview unsaved work.
    """
    contact = contact or sample_contact()
    problems = check_tokens(email)
    if problems:
        return Preview(subject=email.subject, html=email.html, text=email.text, problems=problems, notes=[])
    rendered = Renderer(email, [contact], mode="preview").render(contact)
    return Preview(subject=rendered.subject, html=rendered.html, text=rendered.text, problems={},
                   notes=rendered.notes, skip_reason=rendered.skip_reason)


def sender(email: Email) -> str:
    default_name, default_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    address = email.from_email or default_address
    name = email.from_name if email.from_email or email.from_name else default_name
    return formataddr((name, address)) if name else address


def _message(email: Email, to: str, rendered: RenderedMessage, connection, *, headers: dict[str, str]):
    message = EmailMultiAlternatives(subject=rendered.subject, body=rendered.text, from_email=sender(email),
                                     to=[to], reply_to=[email.reply_to] if email.reply_to else None,
                                     headers=headers, connection=connection)
    message.attach_alternative(rendered.html, "text/html")
    return message


def _recipient(contact: Contact, address: str) -> str:
    return formataddr((contact.full_name, address)) if contact.full_name else address


def message_id(send: Send, email: Email) -> str:
    domain = parseaddr(sender(email))[1].rpartition("@")[2] or "liaison.local"
    digest = hashlib.sha256(send.token.encode()).hexdigest()[:16]
    return f"<liaison.{send.pk}.{digest}@{domain}>"


# -- sending ----------------------------------------------------------------------------------

@dataclass
class QueueResult:
    send_ids: list[int] = field(default_factory=list)  # every send for these contacts, new or not
    queued_ids: list[int] = field(default_factory=list)  # those still waiting to be delivered
    created: int = 0
    existing: int = 0
    missing_contacts: int = 0


@dataclass
class DeliveryResult:
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)  # back to queued (temporary problem, stop request)
    already: int = 0  # sends that existed and were no longer queued (sent before a crash, ...)
    stopped: bool = False
    error: str = ""

    def add(self, other: DeliveryResult) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.skipped += other.skipped
        self.released += other.released
        self.already += other.already
        self.stopped = self.stopped or other.stopped
        self.error = other.error or self.error

    def as_dict(self) -> dict[str, Any]:
        return {"sent": len(self.sent), "failed": len(self.failed), "skipped": len(self.skipped),
                "released": len(self.released), "already": self.already, "stopped": self.stopped}


def queue_sends(email: Email, contact_ids: Iterable[int], *, dedupe_prefix: str | None = None,
                dedupe_key: str | None = None, context: Mapping[str, Any] | None = None,
                job: Job | None = None, broadcast=None, keys: Mapping[int, str] | None = None,
                contexts: Mapping[int, Mapping[str, Any]] | None = None) -> QueueResult:
    """Create the queued sends of ``email`` to contacts, in bulk; never the same one twice.

    With ``dedupe_prefix`` each send's key is ``<prefix>:<contact id>`` (a broadcast uses
    ``broadcast:<email id>``); with ``dedupe_key`` (one contact only) that exact key. A
    send whose key exists is not created again: it is returned as it is (``existing``).
    ``broadcast`` ties the sends to a ``Broadcast`` (unique per contact as well). ``keys`` and
    ``contexts`` give each contact its own key and context (a campaign step's contacts, each
    in its own enrollment).
    """
    ids = list(dict.fromkeys(int(i) for i in contact_ids))
    if dedupe_key is not None and len(ids) != 1:
        raise ValueError("dedupe_key names one send: give exactly one contact")
    result = QueueResult()
    now = timezone.now()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        addresses = dict(Contact.objects.filter(pk__in=chunk).values_list("pk", "email"))
        result.missing_contacts += len(chunk) - len(addresses)
        if keys is not None:
            keys_of = {cid: keys[cid] for cid in addresses}
        else:
            keys_of = {cid: dedupe_key if dedupe_key is not None else (f"{dedupe_prefix}:{cid}" if dedupe_prefix
                                                                       else None) for cid in addresses}
        wanted = [k for k in keys_of.values() if k]
        existing = dict(Send.objects.filter(dedupe_key__in=wanted).values_list("dedupe_key", "pk")) if wanted else {}
        fresh = [Send(email=email, contact_id=cid, to_email=addresses[cid], dedupe_key=keys_of[cid],
                      context=dict((contexts or {}).get(cid, context) or {}), job=job, broadcast=broadcast, token=new_send_token(),
                      created_at=now)
                 for cid in chunk if cid in addresses and keys_of[cid] not in existing]
        # ignore_conflicts: a concurrent writer may have created the same key meanwhile.
        Send.objects.bulk_create(fresh, ignore_conflicts=True, batch_size=500)
        if wanted:
            rows = list(Send.objects.filter(dedupe_key__in=wanted).values_list("pk", "status", "dedupe_key"))
            result.created += len({key for _, _, key in rows} - set(existing))
        else:  # no keys: the rows just written, found by their tokens
            rows = list(Send.objects.filter(token__in=[s.token for s in fresh]).values_list("pk", "status",
                                                                                         "dedupe_key"))
            result.created += len(rows)
        result.existing += len(existing)
        result.send_ids += [pk for pk, _, _ in rows]
        result.queued_ids += [pk for pk, status, _ in rows if status == Send.Status.QUEUED]
    return result


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _release(send_ids: list[int]) -> None:
    """Back to queued: these messages were certainly not accepted by the server."""
    if send_ids:
        Send.objects.filter(pk__in=send_ids, status=Send.Status.SENDING).update(status=Send.Status.QUEUED,
                                                                                  claim="", claimed_at=None)


def _smtp_code(exc: Exception) -> int | None:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return max(codes) if codes else None
    return getattr(exc, "smtp_code", None)


def _smtp_words(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = [f"{code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
                   for code, msg in exc.recipients.values()]
        return "; ".join(answers)
    if isinstance(exc, smtplib.SMTPResponseException):
        msg = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {msg}"
    return str(exc) or type(exc).__name__


def _content_version(email: Email) -> EmailContent:
    digest = EmailContent.digest_of(email.pk, email.subject, email.html, email.text)
    content = EmailContent.objects.filter(digest=digest).first()
    if content is None:
        EmailContent.objects.bulk_create([EmailContent(email=email, digest=digest, subject=email.subject,
                                                       html=email.html, text=email.text)], ignore_conflicts=True)
        content = EmailContent.objects.get(digest=digest)
    return content


def deliver(send_ids: Iterable[int], *, owner: str = "deliver", batch_size: int | None = None,
            stop: Callable[[], bool] | None = None,
            on_batch: Callable[[DeliveryResult], None] | None = None) -> DeliveryResult:
    """Send the queued sends among ``send_ids``, in batches over one mail connection each.

    ``owner`` prefixes the claims (a job uses ``job:<id>``, so its next attempt can recover
    what a crashed attempt left). ``stop()`` is asked before each message (pause/cancel):
    the rest of the batch goes back to queued. ``on_batch(result)`` is called after each
    batch with the totals so far (progress). Raises ``RetryableError`` when the mail server
    could not be used; what was not attempted is queued again.
    """
    _require_autocommit()
    ids = list(dict.fromkeys(int(i) for i in send_ids))
    size = batch_size or settings.EMAIL_BATCH_SIZE
    total = DeliveryResult()
    for chunk in _chunks(ids, size):
        claim = f"{owner}:{uuid.uuid4().hex[:16]}"[:80]
        claimed = Send.objects.filter(pk__in=chunk, status=Send.Status.QUEUED).update(
            status=Send.Status.SENDING, claim=claim, claimed_at=timezone.now())
        total.already += len(chunk) - claimed
        if claimed:
            batch = DeliveryResult()
            try:
                _deliver_claimed(claim, batch, stop)
            finally:
                total.add(batch)
                _record_outcomes(batch.sent + batch.failed + batch.skipped)
        if on_batch is not None:
            on_batch(total)
        if total.stopped:
            break  # what was not claimed yet stays queued
    return total


def can_deliver_now() -> bool:
    """Whether ``deliver`` may run here: outside any transaction (a test case's own aside)."""
    return not any(not getattr(block, "_from_testcase", False) for block in db_connection.atomic_blocks)


def deliver_later(email: Email, send_ids: list[int], *, label: str = "", user=None) -> Job | None:
    """Hand queued sends to one ``emails.deliver`` job (what callers inside a transaction do)."""
    if not send_ids:
        return None
    job = jobs.enqueue("emails.deliver", {"send_ids": list(send_ids)},
                       label=(label or f"Send “{email.name}” to {len(send_ids)} contact(s)")[:300], user=user)
    Send.objects.filter(pk__in=list(send_ids)).update(job=job)
    return job


def _require_autocommit() -> None:
    """Each acceptance must be committed the moment it is written: inside a transaction, a
    rollback would forget messages the server already took, and a re-run would send them
    again. Jobs run in autocommit; so must any other caller."""
    if not can_deliver_now():
        raise RuntimeError("Deliver e-mails outside any transaction (as the e-mail jobs do): the record of each "
                           "message the server accepted must be committed at once.")


def _deliver_claimed(claim: str, result: DeliveryResult, stop: Callable[[], bool] | None) -> None:
    try:
        to_send, connection = _prepare(claim, result)
    except Exception:
        # Nothing reached the mail server: give the batch back rather than lose it.
        _release(list(Send.objects.filter(claim=claim, status=Send.Status.SENDING).values_list("pk", flat=True)))
        raise
    if to_send:
        _hand_over(claim, to_send, connection, result, stop)


def _prepare(claim: str, result: DeliveryResult) -> tuple[list[tuple[Send, Any]], Any]:
    """Skip who must not get it, render the others, store what was rendered (bulk)."""
    sends = list(Send.objects.filter(claim=claim, status=Send.Status.SENDING)
                 .select_related("contact", "contact__company", "email").order_by("pk"))
    skipped: list[Send] = []
    failed: list[Send] = []
    ready: list[Send] = []
    for send in sends:
        contact = send.contact
        if contact.do_not_contact:
            send.reason = f"Do not contact ({contact.dnc_reason})" if contact.dnc_reason else "Do not contact"
            skipped.append(send)
        elif not send.email.published:
            send.reason = "The e-mail is not published."
            skipped.append(send)
        else:
            address = contact.email or send.to_email
            try:
                validate_email(address)
            except ValidationError:
                send.reason = f"{address!r} is not a valid e-mail address."
                skipped.append(send)
                continue
            send.to_email = address
            ready.append(send)
    to_send: list[tuple[Send, Any]] = []
    connection = get_connection(fail_silently=False)
    by_email: dict[int, list[Send]] = {}
    for send in ready:
        by_email.setdefault(send.email_id, []).append(send)
    rendered_rows: list[Send] = []
    for group in by_email.values():
        email = group[0].email
        try:
            renderer = Renderer(email, [s.contact for s in group], mode="send")
        except TokenFailure as exc:
            for send in group:
                send.reason = str(exc)[:500]
            failed += group
            continue
        content = _content_version(email)
        for send in group:
            rendered = renderer.render(send.contact, send)
            if rendered.skip_reason:
                send.reason = rendered.skip_reason[:500]
                send.notes = rendered.notes
                skipped.append(send)
                continue
            send.subject = rendered.subject
            send.links = rendered.links
            send.values = rendered.values
            send.notes = rendered.notes
            send.content = content
            send.message_id = message_id(send, email)
            unsubscribe = f"{base_url()}/u/{send.token}/"
            headers = {"Message-ID": send.message_id, "List-Unsubscribe": f"<{unsubscribe}>",
                       "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
            to_send.append((send, _message(email, _recipient(send.contact, send.to_email), rendered, connection,
                                           headers=headers)))
            rendered_rows.append(send)
    for send in skipped:
        send.status = Send.Status.SKIPPED
    for send in failed:
        send.status = Send.Status.FAILED
    update_rows(Send, ["status", "reason", "notes", "to_email"],
                ((s.status, s.reason, s.notes, s.to_email, s.pk) for s in skipped + failed))
    update_rows(Send, ["subject", "links", "values", "notes", "content", "message_id", "to_email"],
                ((s.subject, s.links, s.values, s.notes, s.content_id, s.message_id, s.to_email, s.pk)
                 for s in rendered_rows))
    result.skipped += [s.pk for s in skipped]
    result.failed += [s.pk for s in failed]
    return to_send, connection


def _hand_over(claim: str, to_send: list[tuple[Send, Any]], connection, result: DeliveryResult,
               stop: Callable[[], bool] | None) -> None:
    """Send over one connection, in primary-key order, recording each outcome at once.

    The invariant recovery relies on: while a batch runs, its rows still in "sending" are
    the message being handed over (first in key order) and messages never attempted.
    A slow batch refreshes its claim regularly, so recovery never takes it over while it
    runs; if it was taken over anyway (the process was frozen for longer than the
    timeout), the batch stops without sending another message.
    """
    to_send = sorted(to_send, key=lambda item: item[0].pk)
    last_beat = time.monotonic()
    try:
        connection.open()
    except (OSError, smtplib.SMTPException) as exc:
        _release([s.pk for s, _ in to_send])
        result.released += [s.pk for s, _ in to_send]
        result.error = f"The mail server could not be reached: {_smtp_words(exc)}"
        raise RetryableError(result.error) from exc
    try:
        for position, (send, message) in enumerate(to_send):
            if time.monotonic() - last_beat > CLAIM_HEARTBEAT_SECONDS:
                held = Send.objects.filter(claim=claim, status=Send.Status.SENDING).update(claimed_at=timezone.now())
                last_beat = time.monotonic()
                if held < len(to_send) - position:
                    result.error = "This batch was taken over by crash recovery; it stopped sending."
                    logger.error("e-mail batch %s lost its claim; stopping", claim)
                    break
            if stop is not None and stop():
                rest = [s.pk for s, _ in to_send[position:]]
                _release(rest)
                result.released += rest
                result.stopped = True
                break
            try:
                accepted = connection.send_messages([message])
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
                code = _smtp_code(exc) or 500
                words = _smtp_words(exc)
                if isinstance(exc, smtplib.SMTPSenderRefused) or 400 <= code < 500:
                    # Not accepted, worth another try later (greylisting, a full mailbox, a
                    # sender refused until the configuration is fixed).
                    _release([send.pk])
                    result.released.append(send.pk)
                    result.error = f"The mail server refused for now: {words}"
                else:
                    _fail(send.pk, f"Refused by the mail server: {words}")
                    result.failed.append(send.pk)
                continue
            except (OSError, smtplib.SMTPException) as exc:
                # The connection broke during this message: it may have been accepted.
                _fail(send.pk, f"{INTERRUPTED} ({_smtp_words(exc)})")
                result.failed.append(send.pk)
                rest = [s.pk for s, _ in to_send[position + 1:]]
                _release(rest)
                result.released += rest
                result.error = f"The connection to the mail server broke: {_smtp_words(exc)}"
                break
            if accepted:
                # The commit point of exactly-once: written right after the server's "250",
                # one UPDATE by primary key per SMTP transaction.
                update_rows(Send, ["status", "sent_at"], [(Send.Status.SENT, timezone.now(), send.pk)])
                result.sent.append(send.pk)
            else:
                _fail(send.pk, "The mail backend did not accept the message.")
                result.failed.append(send.pk)
    finally:
        try:
            connection.close()
        except Exception:  # closing a broken connection must not hide the outcome
            logger.debug("closing the mail connection failed", exc_info=True)
    if result.error and not result.stopped:
        raise RetryableError(result.error)


def _fail(send_id: int, reason: str) -> None:
    Send.objects.filter(pk=send_id, status=Send.Status.SENDING).update(status=Send.Status.FAILED,
                                                                       reason=reason[:500])


def email_choices() -> list[tuple[str, str]]:
    """Every e-mail as ``(id, name)``: what point rules and campaign steps may name."""
    return [(str(pk), f"{name} ({Email.Kind(kind).label.lower()})") for pk, name, kind in
            Email.objects.order_by("name", "pk").values_list("pk", "name", "kind")]


def _record_outcomes(send_ids: list[int]) -> None:
    """Timeline entries (idempotent) and the ``email_sent`` signal for finished sends."""
    if not send_ids:
        return
    rows = list(Send.objects.filter(pk__in=send_ids).select_related("email").only(
        "pk", "contact_id", "status", "reason", "subject", "token", "sent_at", "created_at", "context",
        "email__name", "email__subject"))
    entries = []
    now = timezone.now()
    for send in rows:
        data = {"email_id": send.email_id, "email": send.email.name, "send_id": send.pk,
                "subject": send.subject or send.email.subject}
        if send.status == Send.Status.SENT:
            data["webview"] = f"/v/{send.token}/"
            entries.append(ActivityInput(send.contact_id, "emails.sent", send.sent_at or now,
                                         f"“{data['subject']}”", f"emails.sent:{send.pk}", data, "emails"))
        elif send.status in (Send.Status.FAILED, Send.Status.SKIPPED):
            data["reason"] = send.reason
            kind = "emails.failed" if send.status == Send.Status.FAILED else "emails.skipped"
            entries.append(ActivityInput(send.contact_id, kind, now, f"{send.email.name}: {send.reason}"[:300],
                                         f"{kind}:{send.pk}", data, "emails"))
    by_email: dict[int, list] = {}
    for send in rows:
        if send.status == Send.Status.SENT:
            by_email.setdefault(send.email_id, []).append((send.pk, send.contact_id, send.context))
    with transaction.atomic():
        record_activities(entries)
        for email_id, batch in by_email.items():
            # One fact per e-mail and contact: "receives e-mail X" scores once, however often it is sent.
            events.announce("emails.sent", [contact_id for _, contact_id, _ in batch],
                            ref=f"emails:email:{email_id}", occurred_at=now, data={"email_id": email_id})
            transaction.on_commit(lambda e=email_id, b=batch: signals.email_sent.send(sender=Send, email_id=e,
                                                                                        sends=b))


@dataclass
class Recovery:
    interrupted: list[int] = field(default_factory=list)  # failed: perhaps accepted, never sent again
    requeued: list[int] = field(default_factory=list)  # never attempted: queued again
    jobs: list[int] = field(default_factory=list)  # delivery jobs started for orphaned single sends

    def __bool__(self) -> bool:
        return bool(self.interrupted or self.requeued)


def recover_interrupted(*, older_than: timedelta | None = None, owner: str | None = None) -> Recovery:
    """Repair what a crashed batch left in "sending"; never sends anything twice.

    Batches hand messages over one at a time in primary-key order and record each outcome
    at once, so in a crashed batch only its first "sending" row can have reached the
    server: it becomes ``failed`` ("interrupted while sending"); the others were never
    attempted and go back to ``queued``.

    Without ``owner``: batches claimed more than ``older_than`` ago (default
    ``LIAISON_EMAIL_INTERRUPTED_AFTER``); queued-again sends of a finished ``emails.deliver``
    job get a new job (other owners, such as a broadcast, re-run their own). With
    ``owner`` (e.g. ``job:12``): that owner's batches at once, because its previous
    attempt is known to be over.
    """
    qs = Send.objects.filter(status=Send.Status.SENDING)
    if owner is not None:
        qs = qs.filter(claim__startswith=f"{owner}:")
    else:
        cutoff = timezone.now() - (older_than if older_than is not None
                                   else timedelta(seconds=settings.EMAIL_INTERRUPTED_AFTER_SECONDS))
        qs = qs.filter(claimed_at__lt=cutoff)
    rows = list(qs.order_by("claim", "pk").values_list("pk", "claim", "job_id"))
    recovery = Recovery()
    if not rows:
        return recovery
    first_of_claim: dict[str, int] = {}
    for pk, claim, _ in rows:
        first_of_claim.setdefault(claim, pk)
    in_flight = set(first_of_claim.values())
    recovery.interrupted = [pk for pk, _, _ in rows if pk in in_flight]
    recovery.requeued = [pk for pk, _, _ in rows if pk not in in_flight]
    for chunk in _chunks(recovery.interrupted, CHUNK):
        Send.objects.filter(pk__in=chunk, status=Send.Status.SENDING).update(status=Send.Status.FAILED,
                                                                             reason=INTERRUPTED)
    _release(recovery.requeued)
    # The crashed batch may also have died before writing the timeline of what it sent.
    finished = list(Send.objects.filter(claim__in=list(first_of_claim)).exclude(
        status__in=[Send.Status.QUEUED, Send.Status.SENDING]).values_list("pk", flat=True))
    for chunk in _chunks(finished, CHUNK):
        _record_outcomes(chunk)
    if owner is None:
        orphans: dict[int, list[int]] = {}
        requeued = set(recovery.requeued)
        for pk, _, job_id in rows:
            if pk in requeued and job_id:
                orphans.setdefault(job_id, []).append(pk)
        finished_jobs = set(Job.objects.filter(pk__in=list(orphans), kind="emails.deliver").exclude(
            status__in=Job.ACTIVE).values_list("pk", flat=True))
        for job_id in sorted(finished_jobs):
            job = jobs.enqueue("emails.deliver", {"send_ids": orphans[job_id]},
                               label=f"Deliver {len(orphans[job_id])} e-mail(s) left by job #{job_id}")
            Send.objects.filter(pk__in=orphans[job_id]).update(job=job)
            recovery.jobs.append(job.pk)
    return recovery


def send_batch(email: Email, contact_ids: Iterable[int], *, dedupe_prefix: str,
               context: Mapping[str, Any] | None = None, job: Job | None = None, owner: str = "batch",
               stop: Callable[[], bool] | None = None,
               on_batch: Callable[[DeliveryResult], None] | None = None, broadcast=None) -> DeliveryResult:
    """Queue (idempotently) and deliver ``email`` to these contacts: what a broadcast runs per chunk.

    Re-running it after a crash sends only what was never handed to the mail server.
    """
    queued = queue_sends(email, contact_ids, dedupe_prefix=dedupe_prefix, context=context, job=job,
                         broadcast=broadcast)
    result = deliver(queued.queued_ids, owner=owner, stop=stop, on_batch=on_batch)
    result.already += len(queued.send_ids) - len(queued.queued_ids)
    return result


def _contact_or_error(contact: Contact | None) -> Contact:
    if contact is None or contact.pk is None:
        raise ValidationFailed({"contact": ["Choose a contact."]})
    return contact


def send_email(email: Email, contact: Contact, *, context: Mapping[str, Any] | None = None,
               dedupe_key: str | None = None, user=None, dispatch: bool = True) -> Send:
    """Send a template e-mail to one contact, in the background (``mail`` queue).

    Returns the ``Send`` (its ``job`` delivers it). With ``dedupe_key``, asking again for
    the same key returns the first send and sends nothing more. A contact marked do not
    contact gets a send ``skipped`` with the reason, and no job. ``dispatch=False`` leaves
    the job for the caller to run in-process (the CLI).
    """
    contact = _contact_or_error(contact)
    if email.kind != Email.Kind.TEMPLATE:
        raise ValidationFailed({"email": [("A segment e-mail is sent to its segments; send a template e-mail to "
                                           "one contact.")]})
    if not email.published:
        raise ValidationFailed({"email": ["This e-mail is not published: publish it before sending it."]})
    if dedupe_key is not None and not str(dedupe_key).strip():
        raise ValidationFailed({"dedupe_key": ["Leave it out or give a non-empty key."]})
    with transaction.atomic():
        queued = queue_sends(email, [contact.pk], dedupe_key=dedupe_key, context=context)
        send = Send.objects.get(pk=queued.send_ids[0])
        if not queued.created:
            return send
        if contact.do_not_contact:
            reason = f"Do not contact ({contact.dnc_reason})" if contact.dnc_reason else "Do not contact"
            Send.objects.filter(pk=send.pk).update(status=Send.Status.SKIPPED, reason=reason)
            _record_outcomes([send.pk])
            send.refresh_from_db()
            return send
        job = jobs.enqueue("emails.deliver", {"send_ids": [send.pk]},
                           label=f"Send “{email.name}” to {contact.email}"[:300], user=user, dispatch_now=dispatch)
        Send.objects.filter(pk=send.pk).update(job=job)
        send.job = job
    return send


def send_test(email: Email, to: str, *, contact: Contact | None = None, user=None, dispatch: bool = True) -> Job:
    """Send a test message (subject prefixed "[Test]", links not tracked) to an address."""
    errors: dict[str, list[str]] = {}
    to = _clean_address(to, "to", errors)
    if not to:
        errors.setdefault("to", []).append("Give the address to send the test to.")
    if errors:
        raise ValidationFailed(errors)
    problems = check_tokens(email)
    if problems:
        raise ValidationFailed(problems)
    return jobs.enqueue("emails.test", {"email_id": email.pk, "to": to, "contact_id": contact.pk if contact else None},
                        label=f"Test of “{email.name}” to {to}"[:300], user=user, dispatch_now=dispatch)


# -- jobs -------------------------------------------------------------------------------------

def run_deliver(ctx, send_ids: list[int]) -> dict[str, Any]:
    """The ``emails.deliver`` job: deliver these sends (exactly once, see the module doc)."""
    owner = f"job:{ctx.job.pk}"
    for recovery in (recover_interrupted(), recover_interrupted(owner=owner) if ctx.attempt > 1 else None):
        if recovery:
            ctx.log(f"After a crash: {len(recovery.interrupted)} send(s) that may have reached the mail server "
                    f"marked failed (never sent twice), {len(recovery.requeued)} queued again.")
    total = len(send_ids)

    def progress(result: DeliveryResult) -> None:
        done = len(result.sent) + len(result.failed) + len(result.skipped) + result.already
        ctx.progress(done, total, f"{len(result.sent)} sent, {len(result.failed)} failed, "
                                  f"{len(result.skipped)} not sent")

    try:
        result = deliver(send_ids, owner=owner, stop=ctx.is_cancelled, on_batch=progress)
    except RetryableError as exc:
        if ctx.attempt >= ctx.job.max_attempts:
            failed = fail_queued(send_ids, f"Not sent after {ctx.attempt} attempts: {exc}")
            ctx.log(f"{failed} send(s) marked failed.")
        raise
    ctx.check_cancelled()
    return result.as_dict()


def fail_queued(send_ids: list[int], reason: str) -> int:
    ids = list(Send.objects.filter(pk__in=send_ids, status=Send.Status.QUEUED).values_list("pk", flat=True))
    Send.objects.filter(pk__in=ids, status=Send.Status.QUEUED).update(status=Send.Status.FAILED, reason=reason[:500])
    _record_outcomes(ids)
    return len(ids)


def run_test(ctx, email_id: int, to: str, contact_id: int | None = None) -> str:
    email = Email.objects.filter(pk=email_id).first()
    if email is None:
        raise LiaisonError("The e-mail was deleted.")
    contact = Contact.objects.filter(pk=contact_id).select_related("company").first() if contact_id else None
    contact = contact or sample_contact()
    rendered = Renderer(email, [contact], mode="test").render(contact)
    rendered.subject = f"[Test] {rendered.subject}"[:255]
    if rendered.skip_reason:
        ctx.log(f"For a real send this contact would be skipped: {rendered.skip_reason}")
    for note in rendered.notes:
        ctx.log(note)
    connection = get_connection(fail_silently=False)
    try:
        _message(email, to, rendered, connection, headers={}).send()
    except (OSError, smtplib.SMTPException) as exc:
        raise LiaisonError(f"The mail server did not take the test message: {_smtp_words(exc)}") from exc
    return f"Test message sent to {to}."


# -- tracking ---------------------------------------------------------------------------------

def _signal_kwargs(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"send_id": row["pk"], "email_id": row["email_id"], "contact_id": row["contact_id"],
            "context": row["context"]}


def _send_row(token: str) -> dict[str, Any] | None:
    return (Send.objects.filter(token=token).values("pk", "email_id", "contact_id", "context", "links", "subject",
                                                   "opened_at", "email__name").first())


def _event_data(row: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """A contact event's data about a send: the e-mail, the send and why it was sent."""
    return {"email_id": row["email_id"], "send_id": row["pk"], "send_context": row["context"] or {}, **extra}


def _open(row: Mapping[str, Any], now) -> bool:
    """Count an open; True when it is the first of this send (then on the timeline, and announced)."""
    first = Send.objects.filter(pk=row["pk"], opened_at__isnull=True).update(opened_at=now, open_count=1)
    if not first:
        Send.objects.filter(pk=row["pk"]).update(open_count=F("open_count") + 1)
        return False
    record_activities([ActivityInput(row["contact_id"], "emails.opened", now, f"“{row['subject']}”",
                                     f"emails.opened:{row['pk']}", {"email_id": row["email_id"],
                                                                   "email": row["email__name"], "send_id": row["pk"],
                                                                   "subject": row["subject"]}, "emails")])
    events.announce("emails.opened", [row["contact_id"]], ref=f"emails:send:{row['pk']}", occurred_at=now,
                    data=_event_data(row))
    return True


def record_open(token: str) -> bool:
    """The open pixel was loaded. False when the token is unknown."""
    row = _send_row(token)
    if row is None:
        return False
    with transaction.atomic():
        first = _open(row, timezone.now())
        kwargs = _signal_kwargs(row)
        transaction.on_commit(lambda: signals.email_opened.send(sender=Send, first=first, **kwargs))
    return True


def record_click(token: str, index: int) -> str | None:
    """A tracked link was followed: the URL to redirect to, or None (unknown token or link).

    The URL comes only from this send's own links, so a link can never lead to another
    contact's destination.
    """
    row = _send_row(token)
    links = (row or {}).get("links") or []
    if row is None or not 0 <= index < len(links):
        return None
    url = links[index]
    now = timezone.now()
    with transaction.atomic():
        Click.objects.create(send_id=row["pk"], link=index, url=url, clicked_at=now)
        first_of_send = Send.objects.filter(pk=row["pk"], clicked_at__isnull=True).update(clicked_at=now)
        Send.objects.filter(pk=row["pk"]).update(click_count=F("click_count") + 1)
        opened = False
        if row["opened_at"] is None:  # images were blocked: the click proves the open
            opened = _open(row, now)
        first = bool(record_activities([ActivityInput(
            row["contact_id"], "emails.clicked", now, url[:300], f"emails.clicked:{row['pk']}:{index}",
            {"email_id": row["email_id"], "email": row["email__name"], "send_id": row["pk"], "url": url,
             "link": index, "subject": row["subject"]}, "emails")]))
        if first_of_send:
            # The fact is "clicked in this send" (points score it once per send); its first link rides along.
            events.announce("emails.clicked", [row["contact_id"]], ref=f"emails:send:{row['pk']}", occurred_at=now,
                            data=_event_data(row, url=url, link=index))
        kwargs = _signal_kwargs(row)

        def notify():
            if opened:
                signals.email_opened.send(sender=Send, first=True, **kwargs)
            signals.email_clicked.send(sender=Send, link=index, url=url, first=first, **kwargs)

        transaction.on_commit(notify)
    return url


def find_send(token: str) -> Send | None:
    return Send.objects.select_related("email", "contact", "content").filter(token=token).first()


def unsubscribe(send: Send, *, source: str = "email") -> bool:
    """Set do-not-contact for the send's contact. False when it was already set."""
    contact = send.contact
    if contact.do_not_contact:
        return False
    now = timezone.now()
    with transaction.atomic():
        set_do_not_contact(contact, True, f"Unsubscribed from “{send.email.name}”", source=source)
        Send.objects.filter(pk=send.pk).update(unsubscribed_at=now)
        send.unsubscribed_at = now
        record_activities([ActivityInput(contact.pk, "emails.unsubscribed", now, f"From “{send.email.name}”",
                                         f"emails.unsubscribed:{send.pk}:{now.timestamp()}",
                                         {"email_id": send.email_id, "email": send.email.name, "send_id": send.pk,
                                          "subject": send.subject, "webview": f"/v/{send.token}/"}, source)])
        kwargs = {"send_id": send.pk, "email_id": send.email_id, "contact_id": contact.pk, "context": send.context}
        transaction.on_commit(lambda: signals.email_unsubscribed.send(sender=Send, **kwargs))
    return True


def can_undo_unsubscribe(send: Send) -> bool:
    return bool(send.unsubscribed_at and timezone.now() - send.unsubscribed_at <= UNDO_WINDOW
                and send.contact.do_not_contact)


def undo_unsubscribe(send: Send) -> bool:
    """Re-subscribe within a few minutes of unsubscribing through this send."""
    if not can_undo_unsubscribe(send):
        return False
    with transaction.atomic():
        set_do_not_contact(send.contact, False, source="email")
        Send.objects.filter(pk=send.pk).update(unsubscribed_at=None)
        send.unsubscribed_at = None
    return True


# -- reading ------------------------------------------------------------------------------------

STAT_FIELDS = ("total", "queued", "sending", "sent", "failed", "skipped", "opened", "clicked", "unsubscribed")


def stats_for(email_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Send counts per e-mail, in one grouped query."""
    ids = list(email_ids)
    found = {pk: dict.fromkeys(STAT_FIELDS, 0) for pk in ids}
    rows = (Send.objects.filter(email_id__in=ids).values("email_id").order_by().annotate(
        total=Count("pk"),
        queued=Count("pk", filter=Q(status=Send.Status.QUEUED)),
        sending=Count("pk", filter=Q(status=Send.Status.SENDING)),
        sent=Count("pk", filter=Q(status=Send.Status.SENT)),
        failed=Count("pk", filter=Q(status=Send.Status.FAILED)),
        skipped=Count("pk", filter=Q(status=Send.Status.SKIPPED)),
        opened=Count("pk", filter=Q(opened_at__isnull=False)),
        clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
        unsubscribed=Count("pk", filter=Q(unsubscribed_at__isnull=False)),
    ))
    for row in rows:
        found[row.pop("email_id")] = row
    return found


def email_stats(email: Email) -> dict[str, Any]:
    counts = stats_for([email.pk])[email.pk]
    sent = counts["sent"] or 0
    counts["open_rate"] = round(100 * counts["opened"] / sent, 1) if sent else 0.0
    counts["click_rate"] = round(100 * counts["clicked"] / sent, 1) if sent else 0.0
    counts["clicks"] = Click.objects.filter(send__email=email).count()
    return counts


def link_stats(email: Email) -> list[dict[str, Any]]:
    """Clicks per destination URL (unique sends and total clicks), most clicked first."""
    return list(Click.objects.filter(send__email=email).values("url").order_by().annotate(
        clicks=Count("pk"), contacts=Count("send", distinct=True)).order_by("-clicks", "url")[:50])


def filter_sends(params: Mapping[str, Any]) -> QuerySet[Send]:
    qs = Send.objects.select_related("email", "contact")
    if params.get("email"):
        qs = qs.filter(email_id=params["email"])
    if params.get("contact"):
        qs = qs.filter(contact_id=params["contact"])
    if params.get("status"):
        qs = qs.filter(status=params["status"])
    if params.get("q"):
        qs = qs.filter(to_email__icontains=str(params["q"]).strip())
    return qs.order_by("-created_at", "-id")


def find_contact(value: str) -> Contact | None:
    """A contact by e-mail address (case-insensitive) or id."""
    value = (value or "").strip()
    if value.isdigit():
        return Contact.objects.filter(pk=int(value)).first()
    return Contact.objects.filter(email_key=normalize_email(value)).first() if value else None


def search_contacts(query: str, limit: int = 10) -> list[Contact]:
    query = (query or "").strip()
    if not query:
        return []
    return list(Contact.objects.filter(Q(email_key__startswith=query.lower()) | Q(first_name__istartswith=query)
                                       | Q(last_name__istartswith=query)).order_by("email_key")[:limit])

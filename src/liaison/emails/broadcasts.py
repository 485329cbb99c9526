"""Broadcasts: a segment e-mail sent to its audiences, as a job with progress, pause and resume.

Who gets it is one set-based query: contacts in any of the e-mail's audiences (each
``Audience.to_q``), not marked do not contact, with an address, and without a send of this
broadcast yet. The job walks that query in primary-key order (keyset pages) and hands each
page to the exactly-once batch sender (``services.send_batch``), so:

* a contact never gets the broadcast twice: ``Send`` is unique per ``(broadcast, contact)``
  (and per dedupe key ``broadcast:<email id>:<contact id>``), and delivery is exactly once
  per send, crashes included (see ``services``);
* pausing asks the job to stop (the batch in hand puts its rest back in the queue);
  resuming, a retry after a crash and "send to new members" are the same run: deliver what
  is still queued, then whoever in the audience has no send yet.

Only one job per broadcast is active at a time (the job kind's concurrency key), which is
what makes it safe for every run to repair what its owner's previous run left behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from liaison.contacts.models import Contact
from liaison.core import jobs
from liaison.core.contributions import Audience
from liaison.core.errors import LiaisonError, RetryableError, ValidationFailed
from liaison.core.models import Job
from liaison.core.registry import registry
from liaison.emails import services
from liaison.emails.models import Broadcast, Email, Send

JOB_KIND = "emails.broadcast"
PAGE = 1000
CANCELLED_REASON = "The broadcast was cancelled before this message went out."
DNC_REASON = "Do not contact"


def owner_of(email: Email) -> str:
    """Claims, dedupe keys and crash recovery of this broadcast's sends."""
    return f"broadcast:{email.pk}"


def concurrency_key(params: dict[str, Any]) -> str:
    return f"{JOB_KIND}:{params.get('email_id')}"


def broadcast_of(email: Email) -> Broadcast:
    broadcast = Broadcast.objects.select_related("job").filter(email=email).first()
    if broadcast is None:
        broadcast, _ = Broadcast.objects.get_or_create(email=email)
    return broadcast


# -- who gets it --------------------------------------------------------------------------------

def audiences_q(targets: Sequence[tuple[str, Sequence[str]]]) -> Q:
    """Contacts in any of the audiences; refuses audiences whose contribution is gone."""
    q = Q(pk__in=[])
    for key, values in targets:
        audience = registry.find(Audience, key)
        if audience is None:
            raise ValidationFailed({"audiences": [f"The audience {key!r} is no longer installed: choose others."]})
        q |= Q(audience.to_q(list(values)))
    return q


def _not_sent_yet(broadcast: Broadcast) -> Exists:
    return Exists(Send.objects.filter(broadcast=broadcast, contact=OuterRef("pk")))


def eligible(email: Email, broadcast: Broadcast) -> QuerySet[Contact]:
    """Contacts this broadcast would send to now (one query; ordered for keyset pages)."""
    return (Contact.objects.filter(audiences_q(email.audience_targets()), do_not_contact=False)
            .exclude(email="").exclude(_not_sent_yet(broadcast)).order_by("pk"))


@dataclass
class Recipients:
    """What pressing "send" would do now (shown before the confirmation)."""

    in_audience: int = 0
    do_not_contact: int = 0
    no_address: int = 0
    already: int = 0  # have a send of this broadcast (sent, failed, not sent, or waiting)
    to_send: int = 0  # new recipients
    waiting: int = 0  # sends queued by an earlier run (paused), delivered first

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def recipients(email: Email) -> Recipients:
    """Counts of the audience in one aggregate query (plus one for the queued sends)."""
    broadcast = broadcast_of(email)
    targets = email.audience_targets()
    if not targets:
        return Recipients()
    sent = _not_sent_yet(broadcast)
    no_address = Q(email="")
    counts = Contact.objects.filter(audiences_q(targets)).aggregate(
        n_in_audience=Count("pk"),
        n_already=Count("pk", filter=sent),
        n_do_not_contact=Count("pk", filter=Q(do_not_contact=True) & ~sent),
        n_no_address=Count("pk", filter=no_address & Q(do_not_contact=False) & ~sent),
        n_to_send=Count("pk", filter=Q(do_not_contact=False) & ~no_address & ~sent),
    )
    waiting = Send.objects.filter(broadcast=broadcast, status=Send.Status.QUEUED).count()
    return Recipients(waiting=waiting, **{k[2:]: v for k, v in counts.items()})


# -- starting, pausing, resuming, cancelling --------------------------------------------------------

def _problems_before_sending(email: Email) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if email.kind != Email.Kind.SEGMENT:
        errors["email"] = ["Only segment e-mails are broadcast; send a template e-mail to one contact."]
    elif not email.published:
        errors["email"] = ["This e-mail is not published: publish it before sending it."]
    elif not email.audience_targets():
        errors["audiences"] = ["Choose the segments to send it to."]
    else:
        # The rules are checked again: segments may have changed since the e-mail was saved.
        for name, messages in services.validation_problems(email).items():
            errors.setdefault(name, []).extend(messages)
    return errors


def start(email: Email, *, user=None, dispatch: bool = True) -> Broadcast:
    """Send (or continue sending) the broadcast: to what is queued, then to new recipients.

    Works from every state but "sending": the first time, after a pause, after an error or a
    crash, and after it finished ("send to new members": only contacts with no send yet).
    """
    errors = _problems_before_sending(email)
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        broadcast = Broadcast.objects.select_for_update().filter(email=email).first() or broadcast_of(email)
        broadcast.refresh_from_db()
        active = Job.objects.filter(concurrency_key=concurrency_key({"email_id": email.pk}),
                                    status__in=Job.ACTIVE).first()
        if active is not None:
            raise LiaisonError(f"“{email.name}” is still being sent (job #{active.pk}): "
                               + ("it stops after the message in hand; try again in a moment."
                                  if active.cancel_requested else "pause it first."))
        job = jobs.enqueue(JOB_KIND, {"email_id": email.pk}, label=f"Broadcast “{email.name}”"[:300], user=user,
                           dispatch_now=dispatch)
        now = timezone.now()
        fields = {"status": Broadcast.Status.RUNNING, "job": job, "error": "", "finished_at": None,
                  "updated_at": now}
        if broadcast.started_at is None:
            fields.update(started_at=now, started_by=user if getattr(user, "is_authenticated", False) else None)
        Broadcast.objects.filter(pk=broadcast.pk).update(**fields)
    broadcast.refresh_from_db()
    return broadcast


def resume(email: Email, *, user=None, dispatch: bool = True) -> Broadcast:
    """Continue a paused, failed or interrupted broadcast where it stopped."""
    broadcast = broadcast_of(email)
    if broadcast.state not in (Broadcast.Status.PAUSED, Broadcast.Status.FAILED, "interrupted"):
        raise LiaisonError(f"Only a paused or stopped broadcast can be resumed; this one is "
                           f"{broadcast.state_label.lower()}.")
    return start(email, user=user, dispatch=dispatch)


def pause(email: Email) -> Broadcast:
    """Stop sending after the message in hand; what was not sent stays queued for resume."""
    broadcast = broadcast_of(email)
    if broadcast.status != Broadcast.Status.RUNNING:
        raise LiaisonError("Only a broadcast being sent can be paused.")
    Broadcast.objects.filter(pk=broadcast.pk, status=Broadcast.Status.RUNNING).update(
        status=Broadcast.Status.PAUSED, updated_at=timezone.now())
    if broadcast.job is not None:
        jobs.cancel(broadcast.job)
    broadcast.refresh_from_db()
    return broadcast


def cancel(email: Email) -> Broadcast:
    """Stop for good: messages still waiting are marked not sent ("send to new members" stays possible)."""
    broadcast = broadcast_of(email)
    if broadcast.status not in (Broadcast.Status.RUNNING, Broadcast.Status.PAUSED, Broadcast.Status.FAILED):
        raise LiaisonError("Only a broadcast being sent, paused or stopped can be cancelled.")
    Broadcast.objects.filter(pk=broadcast.pk).update(status=Broadcast.Status.CANCELLED, finished_at=timezone.now(),
                                                     updated_at=timezone.now())
    if broadcast.job is not None:
        jobs.cancel(broadcast.job)
    _skip_waiting(broadcast)
    broadcast.refresh_from_db()
    return broadcast


def _skip_waiting(broadcast: Broadcast) -> int:
    ids = list(Send.objects.filter(broadcast=broadcast, status=Send.Status.QUEUED).values_list("pk", flat=True))
    for start_at in range(0, len(ids), PAGE):
        chunk = ids[start_at:start_at + PAGE]
        Send.objects.filter(pk__in=chunk, status=Send.Status.QUEUED).update(status=Send.Status.SKIPPED,
                                                                            reason=CANCELLED_REASON)
        services._record_outcomes(chunk)
    return len(ids)


# -- the job ----------------------------------------------------------------------------------------

def run(ctx, email_id: int) -> dict[str, Any]:
    """The ``emails.broadcast`` job (one active per e-mail)."""
    email = Email.objects.filter(pk=email_id).first()
    if email is None:
        raise LiaisonError("The e-mail was deleted.")
    broadcast = broadcast_of(email)
    owner = owner_of(email)
    # Safe at once: no other job of this broadcast is active (concurrency key).
    recovery = services.recover_interrupted(owner=owner)
    if recovery:
        ctx.log(f"After a crash: {len(recovery.interrupted)} send(s) that may have reached the mail server marked "
                f"failed (never sent twice), {len(recovery.requeued)} queued again.")
    if broadcast.status != Broadcast.Status.RUNNING:
        ctx.log(f"Nothing to do: the broadcast is {broadcast.get_status_display().lower()}.")
        return {"sent": 0, "stopped": True}
    counts = recipients(email)
    before = Send.objects.filter(broadcast=broadcast).exclude(
        status__in=[Send.Status.QUEUED, Send.Status.SENDING]).count()
    total = before + counts.waiting + counts.to_send
    Broadcast.objects.filter(pk=broadcast.pk).update(total=total, runs=broadcast.runs + 1, job=ctx.job,
                                                     updated_at=timezone.now())
    ctx.log(f"{counts.to_send} new recipient(s), {counts.waiting} waiting from before; {counts.do_not_contact} "
            f"do not contact and {counts.no_address} without an address left out.")
    done = services.DeliveryResult()

    def progress(partial: services.DeliveryResult) -> None:
        handled = len(partial.sent) + len(partial.failed) + len(partial.skipped)
        ctx.progress(before + _handled(done) + handled, total,
                     f"{len(done.sent) + len(partial.sent)} sent, {len(done.failed) + len(partial.failed)} failed, "
                     f"{len(done.skipped) + len(partial.skipped)} not sent")

    try:
        waiting = list(Send.objects.filter(broadcast=broadcast, status=Send.Status.QUEUED).order_by("pk")
                       .values_list("pk", flat=True))
        if waiting:
            done.add(services.deliver(waiting, owner=owner, stop=ctx.is_cancelled, on_batch=progress))
        last = 0
        while not done.stopped:
            ids = list(eligible(email, broadcast).filter(pk__gt=last).values_list("pk", flat=True)[:PAGE])
            if not ids:
                break
            last = ids[-1]
            done.add(services.send_batch(email, ids, dedupe_prefix=owner, owner=owner, job=ctx.job,
                                         broadcast=broadcast, stop=ctx.is_cancelled, on_batch=progress))
    except Exception as exc:
        final = not isinstance(exc, RetryableError) or ctx.attempt >= ctx.job.max_attempts
        if final:
            Broadcast.objects.filter(pk=broadcast.pk, status=Broadcast.Status.RUNNING).update(
                status=Broadcast.Status.FAILED, error=str(exc)[:2000], updated_at=timezone.now())
        raise
    ctx.progress(before + _handled(done), total, f"{len(done.sent)} sent, {len(done.failed)} failed, "
                                                 f"{len(done.skipped)} not sent", force=True)
    broadcast.refresh_from_db()
    if broadcast.status == Broadcast.Status.CANCELLED:
        _skip_waiting(broadcast)  # what this run put back in the queue when it stopped
    if done.stopped or ctx.is_cancelled():
        ctx.check_cancelled()
    Broadcast.objects.filter(pk=broadcast.pk, status=Broadcast.Status.RUNNING).update(
        status=Broadcast.Status.FINISHED, finished_at=timezone.now(), updated_at=timezone.now())
    return done.as_dict()


def _handled(result: services.DeliveryResult) -> int:
    return len(result.sent) + len(result.failed) + len(result.skipped)


# -- results ----------------------------------------------------------------------------------------

def stats(email: Email) -> dict[str, Any]:
    """Per-broadcast counts (one grouped query) and why messages were not sent (one more)."""
    broadcast = broadcast_of(email)
    sends = Send.objects.filter(broadcast=broadcast)
    counts = sends.aggregate(
        total=Count("pk"),
        queued=Count("pk", filter=Q(status__in=[Send.Status.QUEUED, Send.Status.SENDING])),
        sent=Count("pk", filter=Q(status=Send.Status.SENT)),
        failed=Count("pk", filter=Q(status=Send.Status.FAILED)),
        skipped=Count("pk", filter=Q(status=Send.Status.SKIPPED)),
        opened=Count("pk", filter=Q(opened_at__isnull=False)),
        clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
        unsubscribed=Count("pk", filter=Q(unsubscribed_at__isnull=False)),
    )
    reasons: dict[str, int] = {}
    for status, reason, n in (sends.filter(status__in=[Send.Status.SKIPPED, Send.Status.FAILED])
                              .values_list("status", "reason").order_by().annotate(n=Count("pk"))):
        # Do-not-contact reasons name each contact's own unsubscription: one line for all of them.
        label = DNC_REASON if reason.startswith(DNC_REASON) else (reason or "No reason given")
        key = f"{'Failed' if status == Send.Status.FAILED else 'Not sent'}: {label}"
        reasons[key] = reasons.get(key, 0) + n
    counts["reasons"] = [{"reason": k, "count": v} for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])[:20]]
    return counts


def summary(email: Email) -> dict[str, Any]:
    """Everything the UI, the API and the CLI show about a broadcast."""
    broadcast = broadcast_of(email)
    job: Job | None = broadcast.job
    return {
        "status": broadcast.state, "status_label": broadcast.state_label, "error": broadcast.error,
        "job_id": job.pk if job else None, "job_status": job.status if job else None,
        "progress_current": job.progress_current if job else 0,
        "progress_total": job.progress_total if job else None,
        "progress_message": job.progress_message if job else "",
        "runs": broadcast.runs, "started_at": broadcast.started_at, "finished_at": broadcast.finished_at,
        "audiences": describe_audiences(email),
        "recipients": recipients(email).as_dict() if email.kind == Email.Kind.SEGMENT else Recipients().as_dict(),
        "stats": stats(email),
    }


def describe_audiences(email: Email) -> list[str]:
    found = []
    for key, values in email.audience_targets():
        audience = registry.find(Audience, key)
        found.append(audience.describe(values) if audience else f"{key} (not installed)")
    return found


def audience_options(choices: bool = True) -> list[dict[str, Any]]:
    """Every audience (with its first 500 choices), for the editor."""
    return [{"audience": a, "choices": a.choices("", 0, 500).items if choices else []}
            for a in registry.all(Audience)]

"""Benchmark: render and send N template e-mails through Liaison's batch sender vs. the rendering bound.

For each database (SQLite, PostgreSQL), in a fresh process and on the same data:
- the bound: the same N messages rendered in a plain loop (tokens, click tracking, open
  pixel, text part, MIME message built) with no database write and no sending;
- Liaison: ``emails.services.send_batch`` on the same contacts: queue the sends (bulk,
  de-duplicated), claim them in batches, render, hand each message to the mail backend
  and record each acceptance at once (the exactly-once commit), timeline entries.

It prints messages per second and the ratio to the bound. The mail backend is Django's
locmem backend by default (``--backend file`` writes files; ``--backend smtp`` talks to an
in-process aiosmtpd server on loopback).

    .venv/bin/python bench/email_render.py [--messages 5000] [--db sqlite|postgres|both] [--backend memory|file|smtp]

The broadcast benchmark reuses ``prepare`` (contacts and a realistic e-mail), ``bound`` and ``run_child``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PARAGRAPH = ("<p style=\"font-family:Arial,sans-serif;font-size:15px;line-height:1.5;color:#333\">Our spring programme "
             "brings new sessions on automation, analytics and customer journeys. {contactfield=company|Your team} "
             "can join any of them; every session is recorded.</p>\n")
HTML = ("<!doctype html><html><head><meta charset=\"utf-8\"><title>Spring news</title>"
        "<style>p{margin:0 0 12px}</style></head><body>\n"
        "<p>Hello {contactfield=first_name|there},</p>\n" + PARAGRAPH * 6
        + "".join(f'<p><a href="https://example.com/articles/{n}?utm_source=liaison&amp;utm_campaign=spring">'
                  f"Article {n}</a></p>\n" for n in range(6))
        + "<p>Your tier: {contactfield=tier|standard}. Sent on {date}.</p>\n"
        + '<p style="font-size:12px"><a href="{webview_url}">View in your browser</a> · '
          '<a href="{unsubscribe_url}">Unsubscribe</a></p>\n</body></html>')


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def setup(db: str, backend: str) -> None:
    from common import setup_django

    setup_django(db, "mail", LIAISON_EMAIL_BACKEND=backend, LIAISON_BASE_URL="https://liaison.example.com")


def prepare(count: int):
    """``count`` contacts (with a custom field) and a realistic e-mail; returns (email, contact ids)."""
    from liaison.contacts.services import save_field, upsert_contacts
    from liaison.emails.services import save_email

    save_field({"alias": "tier", "label": "Tier", "type": "select", "choices": "gold\nsilver"})
    result = upsert_contacts([{"email": f"person{n}@example.com", "first_name": f"First{n}", "last_name": f"Last{n}",
                               "company": f"Company {n % 200}", "custom": {"tier": "gold" if n % 3 else "silver"}}
                              for n in range(count)])
    email = save_email({"name": "Spring news", "subject": "Spring news for {contactfield=first_name|you}",
                        "html": HTML, "from_name": "Liaison", "from_email": "news@example.com", "kind": "segment"})
    return email, sorted(result.ids.values())


def bound(email, contact_ids: list[int]) -> int:
    """Render the same messages in a plain loop: no database write, nothing sent. Returns bytes built."""
    from liaison.contacts.models import Contact
    from liaison.emails.models import Send
    from liaison.emails.rendering import Renderer
    from liaison.emails.services import _message

    built = 0
    for start in range(0, len(contact_ids), 100):  # the batch sender's batch size
        contacts = list(Contact.objects.filter(pk__in=contact_ids[start:start + 100]).select_related("company"))
        renderer = Renderer(email, contacts, mode="send")
        for contact in contacts:
            send = Send(email=email, contact=contact, to_email=contact.email)
            rendered = renderer.render(contact, send)
            message = _message(email, contact.email, rendered, None, headers={"Message-ID": f"<{send.token}@x>"})
            built += len(message.message().as_bytes())
    return built


def child(db: str, mode: str, count: int, backend: str) -> dict:
    setup(db, backend)
    server = None
    if backend == "smtp":
        sys.path.insert(0, str(ROOT))
        from django.conf import settings

        from tests.smtp import SmtpServer

        server = SmtpServer().start()
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    from liaison.emails import services
    from liaison.emails.models import Send

    email, ids = prepare(count)
    started = time.perf_counter()
    if mode == "bound":
        built = bound(email, ids)
        sent = count
    else:
        result = services.send_batch(email, ids, dedupe_prefix=f"broadcast:{email.pk}", owner="bench")
        sent = len(result.sent)
        built = None
    elapsed = time.perf_counter() - started
    if server is not None:
        received = len(server.recorder.messages)
        server.stop()
    else:
        received = None
    return {"db": db, "mode": mode, "seconds": elapsed, "messages": count, "sent": sent, "bytes": built,
            "stored_sent": Send.objects.filter(status="sent").count(), "received": received, "peak_mb": peak_mb()}


def run_child(db: str, mode: str, count: int, backend: str, script: str = __file__) -> dict:
    out = subprocess.run([sys.executable, script, "--child", db, mode, "--messages", str(count), "--backend",
                          backend], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"{db}/{mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--backend", choices=["memory", "file", "smtp"], default="memory")
    parser.add_argument("--child", nargs=2, metavar=("DB", "MODE"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.messages, args.backend)))
        return
    print(f"Render and send {args.messages:,} template e-mails ({len(HTML):,} characters of HTML, 8 tracked links, "
          f"5 tokens) to the {args.backend} mail backend; {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.2f}")
    for db in (["sqlite", "postgres"] if args.db == "both" else [args.db]):
        bound_run = run_child(db, "bound", args.messages, args.backend)
        ours = run_child(db, "liaison", args.messages, args.backend)
        ratio = ours["seconds"] / bound_run["seconds"]
        print(f"\n{db}:")
        print(f"  bound (render in a loop, nothing stored or sent): {bound_run['seconds']:7.2f} s  "
              f"{args.messages / bound_run['seconds']:>8,.0f} messages/s")
        print(f"  liaison send_batch (queue, claim, render, send):  {ours['seconds']:7.2f} s  "
              f"{ours['sent'] / ours['seconds']:>8,.0f} messages/s  ({ours['stored_sent']:,} sends stored as sent"
              + (f", {ours['received']:,} received by the SMTP server" if ours["received"] is not None else "")
              + ")")
        print(f"  ratio to the bound:                               {ratio:5.2f}x")
        print(f"  peak memory (max RSS):                            {ours['peak_mb']:5.0f} MB")


if __name__ == "__main__":
    main()

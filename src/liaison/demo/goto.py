"""The demo's GoTo account: connected to the built-in sandbox and synchronised.

``liaison up --demo`` serves the GoTo sandbox at ``{LIAISON_BASE_URL}/sandbox/goto``
(``demo/wsgi.py``). ``prepare()`` creates the account with the sandbox's addresses and its
demo OAuth client, then queues ``demo.connect_goto``: once the server answers, that job
runs the real authorization-code flow (the sandbox's consent page is approved by its
``sandbox_auto_approve`` switch, standing for the user's click), lets the integration
discover the organizer, and queues the first sync.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model

from liaison.core import jobs
from liaison.core.errors import LiaisonError
from liaison.core.http import transports
from liaison.integrations import services
from liaison.integrations.models import Integration
from liaison.sandbox.goto import DEMO_CLIENT

DEMO_NAME = "GoTo (sandbox)"
SANDBOX_PATH = "/sandbox/goto"


def sandbox_url(base_url: str | None = None) -> str:
    return (base_url or settings.LIAISON_BASE_URL).rstrip("/") + SANDBOX_PATH


def prepare(base_url: str | None = None) -> str:
    """Create the demo GoTo account (once) and queue its connection; a line for the console."""
    url = sandbox_url(base_url)
    values = {"api_base_url": url, "auth_base_url": url}
    integration = Integration.objects.filter(spec_key="goto", name=DEMO_NAME).first()
    if integration is None:
        owner = get_user_model().objects.filter(is_active=True, role="admin").order_by("pk").first()
        integration = services.create_integration(
            "goto", DEMO_NAME, {**values, "client_id": DEMO_CLIENT.client_id,
                                "client_secret": DEMO_CLIENT.client_secret}, owner=owner)
    elif integration.settings.get("api_base_url") != url:  # started on another address than last time
        services.update_integration(integration, values=values)
    if services.is_connected(integration) and (integration.account or {}).get("organizer_key"):
        return f"Demo GoTo account “{DEMO_NAME}” is connected to the sandbox; it syncs every 15 minutes."
    jobs.enqueue("demo.connect_goto", {"integration_id": integration.pk},
                 label=f"Connect “{DEMO_NAME}” to the GoTo sandbox")
    return f"Demo GoTo account “{DEMO_NAME}”: connecting to the sandbox, then a first sync (see Jobs)."


def connect(ctx, integration_id: int) -> dict[str, Any]:
    """Job: the OAuth authorization-code flow against the sandbox, approved without a browser, then a first sync."""
    integration = Integration.objects.get(pk=integration_id)
    session: dict[str, Any] = {}
    authorize = services.oauth_start(integration, session)
    authorize += ("&" if "?" in authorize else "?") + "sandbox_auto_approve=1"
    with httpx.Client(transport=transports.resolve(authorize), timeout=30, follow_redirects=False) as browser:
        response = browser.get(authorize)
    query = parse_qs(urlsplit(response.headers.get("location", "")).query)
    if response.status_code != 302 or "code" not in query:
        raise LiaisonError(f"The GoTo sandbox did not approve the demo connection (HTTP {response.status_code}): "
                           f"{response.text[:200]}")
    integration, message = services.oauth_complete(session, state=query["state"][0], code=query["code"][0])
    if ctx is not None:
        ctx.log(message)
    from liaison.demo.services import seed_goto_marketing

    seeded = seed_goto_marketing()
    job = services.start_sync(integration, trigger="demo")
    return {"message": message, "sync_job": job.pk, **seeded}

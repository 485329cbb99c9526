"""The REST API: one ninja API object collecting each app's router (OpenAPI at /api/docs)."""

from __future__ import annotations

from ninja import NinjaAPI

from liaison.api import errors
from liaison.api.auth import SessionAuth, TokenAuth

api = NinjaAPI(
    title="Liaison API",
    version="1",
    description=(
        "Authenticate with a personal token: `Authorization: Bearer lsn_...` (create one under API tokens). "
        "Errors answer with `{\"detail\": ..., \"errors\": {field: [messages]}}`."
    ),
    auth=[TokenAuth(), SessionAuth()],
    urls_namespace="api",
    docs_url="/docs",
)
errors.install(api)


def _mount() -> None:
    from liaison.campaigns.api import router as campaigns_router
    from liaison.contacts.api import router as contacts_router
    from liaison.core.api import router as core_router
    from liaison.core.contributions import IntegrationSpec
    from liaison.core.registry import registry
    from liaison.emails.api import router as emails_router
    from liaison.integrations.api import router as integrations_router
    from liaison.points.api import router as points_router
    from liaison.segments.api import router as segments_router
    from liaison.users.api import router as users_router
    from liaison.webforms.api import router as webforms_router
    from liaison.webhooks.api import router as webhooks_router

    api.add_router("", campaigns_router)
    api.add_router("", contacts_router)
    api.add_router("", core_router)
    api.add_router("", emails_router)
    api.add_router("", integrations_router)
    api.add_router("", points_router)
    api.add_router("", users_router)
    api.add_router("", segments_router)
    api.add_router("", webforms_router)
    api.add_router("", webhooks_router)
    for spec in registry.all(IntegrationSpec):
        if spec.api_router is not None:
            api.add_router(f"/integrations/{spec.key}", spec.api_router)
        if spec.connector_router is not None:
            api.add_router(f"/connectors/{spec.key}", spec.connector_router)


_mount()

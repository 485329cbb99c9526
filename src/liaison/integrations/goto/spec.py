"""The GoTo integration: settings, products (features), OAuth, account discovery, sync."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, SecretStr, field_validator

from liaison.core.contributions import CheckResult, Feature, IntegrationSpec, OAuthConfig
from liaison.core.errors import ValidationFailed
from liaison.core.http import OAuth2Auth, ProviderError

PRODUCTS = ("webinar", "training", "meeting", "assist")
PRODUCT_LABELS = {"webinar": "GoToWebinar", "training": "GoToTraining", "meeting": "GoToMeeting",
                  "assist": "GoToAssist"}
# The product names GoTo uses in a user's account entitlements.
ENTITLEMENTS = {"webinar": "G2W", "training": "G2T", "meeting": "G2M", "assist": "G2A"}


def _base_url(value: str) -> str:
    value = (value or "").strip().rstrip("/")
    if not value.startswith(("https://", "http://")):
        raise ValueError("Enter an address starting with https:// (or http:// for a local sandbox).")
    return value


class GoToSettings(BaseModel):
    client_id: str = Field("", title="OAuth client id",
                           description="From developer.goto.com → OAuth clients (redirect URI: this server's "
                                       "/integrations/oauth/callback/).")
    client_secret: SecretStr | None = Field(None, title="OAuth client secret")
    api_base_url: str = Field("https://api.getgo.com", title="API address",
                              description="GoTo's API host; the demo points it at the built-in sandbox.")
    auth_base_url: str = Field("https://authentication.logmeininc.com", title="Sign-in address",
                               description="GoTo's OAuth host.")
    past_window_days: int = Field(365, ge=1, le=3650, title="Past window (days)",
                                  description="How far back events, sessions and support sessions are synced.")
    future_window_days: int = Field(365, ge=1, le=3650, title="Future window (days)",
                                    description="How far ahead upcoming events are synced.")
    upcoming_refresh_minutes: int = Field(
        240, ge=15, le=10080, title="Re-read registrants of later events every (minutes)",
        description="Events that are live or start within 24 hours are re-read on every sync; later ones this "
                    "often (webhooks bring GoToWebinar registrations in real time meanwhile).")
    page_size: int = Field(200, ge=10, le=200, title="Records per call",
                           description="GoToWebinar pages (200 is GoTo's maximum and the fewest calls).")
    webhooks: bool = Field(True, title="Real-time GoToWebinar updates (webhooks)",
                           description="Turned on when the account is connected; needs this server reachable "
                                       "over https by GoTo.")

    @field_validator("api_base_url", "auth_base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _base_url(value)

    @field_validator("client_id")
    @classmethod
    def _strip(cls, value: str) -> str:
        return (value or "").strip()


def goto_auth(integration, **kw) -> OAuth2Auth:
    """The OAuth2 plug-in for GoTo calls: 401 and 403 ``InvalidToken`` mean "renew".

    The token is kept in memory between calls (``CachedTokenStore``): no query per call, and
    a fetching thread needs the database only to renew it.
    """
    from liaison.integrations import services
    from liaison.integrations.goto.client import token_expired
    from liaison.integrations.goto.prefetch import CachedTokenStore

    auth = services.oauth_auth(integration, expired=token_expired, **kw)
    auth.store = CachedTokenStore(auth.store)
    return auth


class GoToSpec(IntegrationSpec):
    key = "goto"
    label = "GoTo"
    description = ("GoToWebinar, GoToTraining, GoToMeeting and GoToAssist: events, registrations, attendance "
                   "with join and leave times, and support sessions, for every contact.")
    auth_style = "oauth2"
    settings_schema = GoToSettings
    features = (
        Feature("webinar", "GoToWebinar", True, "Webinars, registrants, sessions and attendees."),
        Feature("training", "GoToTraining", True, "Trainings, registrants, sessions and attendees."),
        Feature("meeting", "GoToMeeting", True, "Meetings, sessions and attendees."),
        Feature("assist", "GoToAssist", True, "Remote-support sessions."),
    )
    default_sync_cron = "*/15 * * * *"
    sync_options = {
        "product": "Only this GoTo product: webinar, training, meeting or assist",
        "id": "Only this event (webinarKey, trainingKey or meetingId; needs --product)",
    }
    detail_template = "goto/integration_detail.html"

    @property
    def api_router(self):  # imported lazily: ninja resolves the schemas at import time
        from liaison.integrations.goto.api import router

        return router

    @property
    def connector_router(self):  # /api/connectors/goto/: actions and triggers for automation tools
        from liaison.integrations.goto.connector_api import router

        return router

    @property
    def urlpatterns(self):
        from liaison.integrations.goto.urls import urlpatterns

        return urlpatterns

    def oauth(self, integration) -> OAuthConfig:
        config = integration.config()
        secret = config.client_secret.get_secret_value() if config.client_secret else ""
        return OAuthConfig(authorize_url=f"{config.auth_base_url}/oauth/authorize",
                           token_url=f"{config.auth_base_url}/oauth/token",
                           client_id=config.client_id, client_secret=secret)

    def on_connected(self, integration, token: dict[str, Any]) -> str:
        from liaison.integrations.goto import services

        return services.discover_account(integration)

    def check_connection(self, integration) -> CheckResult:
        from liaison.integrations.goto.client import IdentityApi

        with IdentityApi(integration) as api:
            me = api.me()
        known = integration.account.get("organizer_key")
        if known and known != me["organizer_key"]:
            return CheckResult(ok=False, message=(
                f"The token now belongs to {me['email']} (organizer {me['organizer_key']}), not to the organizer "
                f"this account was connected with ({known}); reconnect it."), details=me)
        return CheckResult(ok=True, message=f"Connected to GoTo as {me['display_name'] or me['email']}.",
                           details={"organizer_key": me["organizer_key"]})

    def clean_sync_options(self, options: dict[str, Any]) -> dict[str, Any]:
        clean = validate_options(options)
        return {name: value for name, value in clean.items() if value}

    def summary(self, integration) -> list[tuple[str, str]]:
        account = integration.account or {}
        if not account.get("organizer_key"):
            return [("GoTo user", "not connected yet")]
        rows = [("GoTo user", f"{account.get('display_name') or ''} <{account.get('email') or ''}>".strip()),
                ("Organizer key", account["organizer_key"])]
        if account.get("account_key"):
            rows.append(("Account", f"{account.get('account_name') or ''} ({account['account_key']})".strip()))
        return rows

    def sync(self, ctx) -> None:
        from liaison.integrations.goto.sync import run

        run(ctx)

    def detail_context(self, integration, request) -> dict[str, Any]:
        from liaison.integrations.goto import views

        return views.detail_context(integration, request)


def validate_options(options: dict[str, Any]) -> dict[str, Any]:
    """The sync options in a clean form; unknown values refused in words."""
    product = options.get("product") or None
    key = str(options.get("id") or "").strip() or None
    errors: dict[str, list[str]] = {}
    if product is not None and product not in PRODUCTS:
        errors["product"] = [f"Unknown product “{product}”: use webinar, training, meeting or assist."]
    if key is not None and product is None:
        errors["id"] = ["Say which product the event belongs to (--product webinar, training or meeting)."]
    if key is not None and product == "assist":
        errors["id"] = ["--id selects a webinar, training or meeting, not a support session."]
    if key is not None and not key.isdigit():
        errors["id"] = [f"“{key}” is not a GoTo key (keys are numbers)."]
    if errors:
        raise ValidationFailed(errors)
    return {"product": product, "id": key, "full": bool(options.get("full"))}


__all__ = ["PRODUCTS", "PRODUCT_LABELS", "GoToSettings", "GoToSpec", "ProviderError", "goto_auth",
           "validate_options"]

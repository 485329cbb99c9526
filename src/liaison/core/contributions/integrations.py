from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel

from liaison.core.contributions.base import Contribution

# The apps' models, named for readability only: core never imports an app.
Integration = Any
SyncContext = Any


AuthStyle = Literal["oauth2", "basic", "soap_session", "none"]


@dataclass(frozen=True)
class Feature:
    """A switch on an integration (e.g. one GoTo product), shown on its settings page."""

    key: str
    label: str
    default: bool = True
    description: str = ""


@dataclass(frozen=True)
class RemoteField:
    """A field of the provider's record, offered on the field-mapping page."""

    key: str
    label: str
    type: str = "text"
    required: bool = False
    readonly: bool = False
    group: str = ""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of "Check connection", in words the user understands."""

    ok: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OAuthConfig:
    """What the framework needs to run the OAuth2 authorization-code flow."""

    authorize_url: str
    token_url: str
    client_id: str
    client_secret: str
    scope: str = ""
    # "client_secret_basic" (HTTP Basic on the token endpoint) or "client_secret_post"
    token_auth_method: str = "client_secret_basic"


class IntegrationSpec(Contribution):
    """Declares an integration: its settings, features, connection check, sync and URLs.

    Subclass it in ``liaison/integrations/<provider>/`` and register an instance. The
    settings schema is a pydantic model; fields typed ``SecretStr`` are secrets: they
    are stored encrypted and are write-only in the UI and the API.
    """

    kind: ClassVar[str] = "integration_spec"
    key: str = ""
    label: str = ""
    description: str = ""
    auth_style: AuthStyle = "none"
    settings_schema: type[BaseModel] = BaseModel
    features: tuple[Feature, ...] = ()
    # Default schedule for "sync" (cron, UTC); None: the integration has no sync.
    default_sync_cron: str | None = "*/15 * * * *"
    # Options accepted by sync runs (shown in the CLI help): {"full": "re-read everything", ...}
    sync_options: dict[str, str] = {}
    # Optional ninja Router mounted at /api/integrations/<key>/ and URL patterns at /integrations/<key>/
    # (URL names in the namespace ``<key>``, e.g. ``{% url "goto:events" pk %}``).
    api_router: Any = None
    urlpatterns: Any = None
    # Optional ninja Router mounted at /api/connectors/<key>/: actions and triggers for outside
    # automation tools (e.g. the GoTo connector), authenticated per API token.
    connector_router: Any = None
    # Optional template for the account page; it extends "integrations/integration_detail.html"
    # and fills its blocks ``integration_actions`` / ``integration_body`` (context: detail_context()).
    detail_template: str = ""

    def check_connection(self, integration: Integration) -> CheckResult:
        return CheckResult(ok=True, message="This integration needs no connection.")

    def remote_fields(self, integration: Integration) -> list[RemoteField]:
        return []

    def sync(self, ctx: SyncContext) -> None:
        """Run one sync; ``ctx`` carries the run, options, cursors, counts and the HTTP audit."""
        ctx.log("This integration has nothing to synchronise.")

    def oauth(self, integration: Integration) -> OAuthConfig | None:
        """The OAuth2 client configuration (``auth_style == "oauth2"`` only)."""
        return None

    def on_connected(self, integration: Integration, token: dict[str, Any]) -> str:
        """Called after the OAuth2 flow stored a token; discover account identifiers here."""
        return "Connected."

    def summary(self, integration: Integration) -> list[tuple[str, str]]:
        """Facts shown on the integration page (account name, organizer, ...)."""
        return []

    def clean_sync_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Check a sync's options before it is queued (UI, API, CLI); raise ``ValidationFailed``
        with a sentence per option, so bad input is refused at once instead of failing a job."""
        return options

    def detail_context(self, integration: Integration, request: Any) -> dict[str, Any]:
        """Extra context for ``detail_template`` (counts, links, webhook status, ...)."""
        return {}

    def validate(self) -> None:
        super().validate()
        if self.auth_style not in ("oauth2", "basic", "soap_session", "none"):
            raise ValueError(f"{self.key}: unknown auth_style {self.auth_style!r}")

"""The "Example CRM" integration (tests only): proves the framework end to end.

It follows the sync pattern of ARCHITECTURE.md: cursor per stream, one page per
transaction (contacts, facts with natural keys, timeline entries, cursor), counts and
API calls into the SyncRun, provider errors in words.
"""

from __future__ import annotations

from typing import Literal

from django.db import transaction
from pydantic import BaseModel, Field, SecretStr

from liaison.contacts.services import ActivityInput, record_activities, upsert_contacts
from liaison.core.contributions import CheckResult, Feature, IntegrationSpec, OAuthConfig, RemoteField
from liaison.core.http import BasicAuth, Budget, Client, MalformedResponse, as_key
from liaison.integrations import services as framework

PAGE_SIZE = 10


class ExampleSettings(BaseModel):
    base_url: str = Field("http://example.test", title="API address")
    client_id: str = Field("", title="OAuth client id")
    client_secret: SecretStr | None = Field(None, title="OAuth client secret")
    region: Literal["eu", "us"] = Field("eu", description="Where the account lives")
    page_size: int = Field(PAGE_SIZE, ge=1, le=100)


class ExampleBasicSettings(BaseModel):
    base_url: str = Field("http://example.test", title="API address")
    username: str = Field(..., title="API user")
    password: SecretStr = Field(..., title="API password")
    page_size: int = Field(PAGE_SIZE, ge=1, le=100)


class ExampleSpec(IntegrationSpec):
    key = "example"
    label = "Example CRM"
    description = "A test provider (OAuth2)."
    auth_style = "oauth2"
    settings_schema = ExampleSettings
    features = (Feature("people", "People", True), Feature("deals", "Deals", False))
    sync_options = {"since": "Only people changed since this ISO date"}

    def oauth(self, integration):
        config = integration.config()
        secret = config.client_secret.get_secret_value() if config.client_secret else ""
        return OAuthConfig(authorize_url=f"{config.base_url}/oauth/authorize",
                           token_url=f"{config.base_url}/oauth/token", client_id=config.client_id,
                           client_secret=secret)

    def auth(self, integration):
        return framework.oauth_auth(integration)

    def client(self, integration, audit=None) -> Client:
        config = integration.config()
        return Client(config.base_url, provider=self.label, auth=self.auth(integration), audit=audit,
                      budget=Budget.per_second(f"example:{integration.pk}", 50),
                      error_sentences={"quota_exceeded": "Example CRM's daily quota is used up."})

    def check_connection(self, integration) -> CheckResult:
        with self.client(integration) as client:
            me = client.get("/api/me").data
        return CheckResult(ok=True, message=f"Connected to {me['name']}.", details={"id": as_key(me["id"])})

    def on_connected(self, integration, token) -> str:
        with self.client(integration) as client:
            me = client.get("/api/me").data
        integration.account = {"id": as_key(me["id"]), "name": me["name"]}
        integration.save(update_fields=["account"])
        return f"Connected to {me['name']}."

    def remote_fields(self, integration):
        with self.client(integration) as client:
            return [RemoteField(f["key"], f["label"], readonly=f.get("readonly", False))
                    for f in client.get("/api/fields").data]

    def summary(self, integration):
        return [("Account", integration.account.get("name", "—"))]

    def sync(self, ctx) -> None:
        from tests.testapp.models import ExamplePerson

        integration = ctx.integration
        config = integration.config()
        state = {} if ctx.full else (ctx.cursor("people", default={}) or {})
        page = state.get("page", 0)
        since = ctx.options.get("since") or state.get("since")
        with self.client(integration, audit=ctx.audit) as client:
            while True:
                ctx.check_cancelled()
                data = client.get("/api/people", params={"page": page + 1, "per_page": config.page_size,
                                                         "updated_since": since}).data
                items = _validated(data)
                with transaction.atomic():
                    result = upsert_contacts(
                        [{"email": p["email"], "first_name": p.get("first_name"), "last_name": p.get("last_name")}
                         for p in items], owner=integration.owner_id, skip_invalid=True)
                    facts = [ExamplePerson(integration=integration, remote_id=as_key(p["id"]),
                                           contact_id=result.ids[p["email"].strip().lower()],
                                           email=p["email"], remote_updated_at=p["updated_at"])
                             for p in items if p["email"].strip().lower() in result.ids]
                    ExamplePerson.objects.bulk_create(facts, update_conflicts=True,
                                                      unique_fields=["integration", "remote_id"],
                                                      update_fields=["contact", "email", "remote_updated_at"])
                    record_activities(ActivityInput(
                        f.contact_id, "example.synced", ctx.started_at, f"Synced from {integration.name}",
                        f"example:{integration.pk}:{f.remote_id}:{f.remote_updated_at}", {"id": f.remote_id},
                        f"integration:{integration.pk}") for f in facts)
                    page += 1
                    done = not data.get("next_page")
                    cursor = {"since": ctx.started_at.isoformat()} if done else {"page": page, "since": since}
                    ctx.save_cursor("people", cursor)
                ctx.count(fetched=len(items), created=result.created, updated=result.updated,
                          unchanged=result.unchanged, failed=len(result.errors))
                ctx.progress(page, None, f"page {page}")
                if done:
                    break


def _validated(data) -> list[dict]:
    """The page's people, or MalformedResponse: nothing is stored from a bad page."""
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise MalformedResponse("Example CRM", "Example CRM sent a page without its list of people; "
                                "nothing was stored from it.", detail=str(data)[:200])
    for person in data["items"]:
        if not isinstance(person, dict) or "id" not in person or not person.get("email"):
            raise MalformedResponse("Example CRM", "Example CRM sent a person without id or e-mail; "
                                    "nothing was stored from that page.", detail=str(person)[:200])
        as_key(person["id"], "id")
    return data["items"]


class ExampleBasicSpec(ExampleSpec):
    key = "example_basic"
    label = "Example CRM (basic auth)"
    description = "A test provider (HTTP Basic)."
    auth_style = "basic"
    settings_schema = ExampleBasicSettings

    def oauth(self, integration):
        return None

    def auth(self, integration):
        config = integration.config()
        return BasicAuth(config.username, config.password.get_secret_value())

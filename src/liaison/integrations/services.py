"""The integration framework's services: accounts, settings, checks, syncs, OAuth, mappings."""

from __future__ import annotations

import secrets as pysecrets
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings as django_settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from liaison.core import jobs, schedules
from liaison.core.contributions import CheckResult, IntegrationSpec
from liaison.core.errors import LiaisonError, ValidationFailed
from liaison.core.http import DbTokenStore, OAuth2Auth, ProviderError
from liaison.core.models import Credential, Schedule
from liaison.core.registry import UnknownContribution, registry
from liaison.integrations import schema
from liaison.integrations.models import ApiCall, FieldMapping, Integration, SyncRun

OAUTH_SESSION_KEY = "liaison_oauth_states"
OAUTH_STATE_TTL = timedelta(minutes=15)
API_CALL_RETENTION = timedelta(days=30)


def available_specs() -> list[IntegrationSpec]:
    return sorted(registry.all(IntegrationSpec), key=lambda s: s.label)


def get_spec(key: str) -> IntegrationSpec:
    try:
        return registry.get(IntegrationSpec, key)
    except UnknownContribution:
        raise ValidationFailed({"spec": [f"There is no integration called “{key}”."]}) from None


def _owner_id(owner) -> int | None:
    return getattr(owner, "pk", owner) or None


def create_integration(spec_key: str, name: str, values: Mapping[str, Any] | None = None, *, user=None,
                       owner=None, features: Mapping[str, bool] | None = None,
                       published: bool = True) -> Integration:
    spec = get_spec(spec_key)
    name = " ".join((name or "").split())
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Give this account a name (e.g. “Marketing webinars”)."]
    elif Integration.objects.filter(spec_key=spec_key, name__iexact=name).exists():
        errors["name"] = [f"Another {spec.label} account is already called “{name}”."]
    try:
        stored_settings, stored_secrets = schema.merge_and_validate(spec.settings_schema, {}, {}, dict(values or {}))
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        integration = Integration.objects.create(
            spec_key=spec_key, name=name, settings=stored_settings, secrets=stored_secrets,
            features=_clean_features(spec, features or {}), owner_id=_owner_id(owner or user), published=published,
        )
        if spec.default_sync_cron:
            schedules.upsert_schedule(sync_schedule_name(integration), "integrations.sync", spec.default_sync_cron,
                                      {"integration_id": integration.pk, "trigger": "schedule"},
                                      owner_key=integration.credential_key)
    return integration


def _clean_features(spec: IntegrationSpec, features: Mapping[str, Any]) -> dict[str, bool]:
    known = {f.key for f in spec.features}
    unknown = set(features) - known
    if unknown:
        raise ValidationFailed({"features": [f"Unknown feature(s): {', '.join(sorted(unknown))}."]})
    return {f.key: bool(features.get(f.key, f.default)) for f in spec.features}


def update_integration(integration: Integration, *, values: Mapping[str, Any] | None = None,
                       clear_secrets: Iterable[str] = (), name: str | None = None, published: bool | None = None,
                       owner: Any = ..., features: Mapping[str, bool] | None = None) -> Integration:
    spec = _require_spec(integration)
    errors: dict[str, list[str]] = {}
    if name is not None:
        name = " ".join(name.split())
        if not name:
            errors["name"] = ["The name cannot be empty."]
        elif Integration.objects.filter(spec_key=integration.spec_key, name__iexact=name).exclude(
                pk=integration.pk).exists():
            errors["name"] = [f"Another {spec.label} account is already called “{name}”."]
    if values is not None or clear_secrets:
        try:
            integration.settings, integration.secrets = schema.merge_and_validate(
                spec.settings_schema, integration.settings, integration.secrets, dict(values or {}),
                set(clear_secrets))
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if features is not None:
        try:
            integration.features = _clean_features(spec, {**integration.features, **features})
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    if name is not None:
        integration.name = name
    if published is not None:
        integration.published = published
    if owner is not ...:
        integration.owner_id = _owner_id(owner)
    integration.updated_at = timezone.now()
    integration.save()
    if published is not None:
        Schedule.objects.filter(owner_key=integration.credential_key).update(enabled=published)
    return integration


def _require_spec(integration: Integration) -> IntegrationSpec:
    spec = integration.spec
    if spec is None:
        raise LiaisonError(f"The code of “{integration.name}” ({integration.spec_key}) is not installed; "
                           f"its data is kept but it cannot be changed or run.")
    return spec


def delete_integration(integration: Integration) -> None:
    with transaction.atomic():
        Schedule.objects.filter(owner_key=integration.credential_key).delete()
        Credential.objects.filter(key=integration.credential_key).delete()
        integration.delete()


def check_connection(integration: Integration) -> CheckResult:
    """Ask the provider; the answer is stored on the integration and returned in words."""
    spec = _require_spec(integration)
    try:
        result = spec.check_connection(integration)
    except ProviderError as exc:
        result = CheckResult(ok=False, message=exc.user_message, details=exc.as_dict())
    except LiaisonError as exc:
        result = CheckResult(ok=False, message=str(exc))
    Integration.objects.filter(pk=integration.pk).update(
        status=Integration.Status.CONNECTED if result.ok else Integration.Status.ERROR,
        status_message=result.message, checked_at=timezone.now())
    integration.refresh_from_db()
    return result


def start_sync(integration: Integration, *, user=None, trigger: str = "manual",
               options: Mapping[str, Any] | None = None):
    """Enqueue a sync (or return the one already queued or running)."""
    spec = _require_spec(integration)
    if not integration.published:
        raise ValidationFailed({"__all__": [f"“{integration.name}” is unpublished: publish it to synchronise."]})
    options = spec.clean_sync_options(dict(options or {}))
    return jobs.enqueue("integrations.sync",
                        {"integration_id": integration.pk, "trigger": trigger, "options": options},
                        label=f"Sync {integration.name}", user=user)


def sync_schedule_name(integration: Integration) -> str:
    return f"Sync {integration.spec_key} #{integration.pk}"


def sync_schedule(integration: Integration) -> Schedule | None:
    return Schedule.objects.filter(owner_key=integration.credential_key, kind="integrations.sync").first()


def set_sync_schedule(integration: Integration, cron: str, enabled: bool = True) -> Schedule:
    return schedules.upsert_schedule(sync_schedule_name(integration), "integrations.sync", cron,
                                     {"integration_id": integration.pk, "trigger": "schedule"},
                                     owner_key=integration.credential_key, enabled=enabled and integration.published)


def last_run(integration: Integration) -> SyncRun | None:
    return integration.runs.order_by("-started_at").first()


# -- OAuth2 ---------------------------------------------------------------------------

def oauth_redirect_uri() -> str:
    return django_settings.LIAISON_BASE_URL + reverse("integrations:oauth_callback")


def oauth_auth(integration: Integration, **kw) -> OAuth2Auth:
    """The OAuth2 plug-in for an integration's HTTP client (tokens in its Credential)."""
    spec = _require_spec(integration)
    config = spec.oauth(integration)
    if config is None:
        raise LiaisonError(f"{spec.label} does not use OAuth.")
    return OAuth2Auth(DbTokenStore(integration.credential_key), provider=spec.label, token_url=config.token_url,
                      client_id=config.client_id, client_secret=config.client_secret,
                      token_auth_method=config.token_auth_method, lock_name=integration.credential_key, **kw)


def oauth_start(integration: Integration, session) -> str:
    """The provider's consent URL; the state is remembered in the user's session."""
    spec = _require_spec(integration)
    config = spec.oauth(integration)
    if config is None:
        raise ValidationFailed({"__all__": [f"{spec.label} does not connect with OAuth."]})
    if not config.client_id or not config.client_secret:
        raise ValidationFailed({"__all__": ["Enter the OAuth client id and secret in the settings first."]})
    state = pysecrets.token_urlsafe(24)
    states = {k: v for k, v in session.get(OAUTH_SESSION_KEY, {}).items()
              if timezone.now().timestamp() - v["at"] < OAUTH_STATE_TTL.total_seconds()}
    states[state] = {"integration": integration.pk, "at": timezone.now().timestamp()}
    session[OAUTH_SESSION_KEY] = states
    return oauth_auth(integration).authorization_url(config.authorize_url, oauth_redirect_uri(), state, config.scope)


def oauth_complete(session, *, state: str, code: str = "", error: str = "", error_description: str = ""
                   ) -> tuple[Integration, str]:
    """Finish the flow: check the state, exchange the code, let the spec discover the account."""
    states = session.get(OAUTH_SESSION_KEY, {})
    entry = states.pop(state, None) if state else None
    session[OAUTH_SESSION_KEY] = states
    if entry is None:
        raise LiaisonError("This sign-in link has expired or was not started here. Start “Connect” again.")
    integration = Integration.objects.get(pk=entry["integration"])
    spec = _require_spec(integration)
    if error:
        message = f"{spec.label} did not grant access: {error_description or error}."
        Integration.objects.filter(pk=integration.pk).update(status=Integration.Status.ERROR,
                                                             status_message=message, checked_at=timezone.now())
        raise LiaisonError(message)
    if not code:
        raise LiaisonError(f"{spec.label} sent no authorization code back.")
    token = oauth_auth(integration).exchange_code(code, oauth_redirect_uri())
    message = spec.on_connected(integration, {"access_token": token.access_token, **token.extra})
    Integration.objects.filter(pk=integration.pk).update(status=Integration.Status.CONNECTED,
                                                         status_message=message, checked_at=timezone.now())
    integration.refresh_from_db()
    return integration, message


def disconnect(integration: Integration) -> None:
    Credential.objects.filter(key=integration.credential_key).delete()
    Integration.objects.filter(pk=integration.pk).update(status=Integration.Status.NEW,
                                                         status_message="Disconnected.", checked_at=timezone.now())


def is_connected(integration: Integration) -> bool:
    return Credential.objects.filter(key=integration.credential_key).exclude(access_token="").exists()


# -- field mappings ---------------------------------------------------------------------

def save_mappings(integration: Integration, rows: Iterable[Mapping[str, str]]) -> list[FieldMapping]:
    """Replace the integration's field mappings (validated against both catalogues)."""
    from liaison.contacts.fields import catalogue_by_key

    spec = _require_spec(integration)
    local = catalogue_by_key()
    remote = {f.key: f for f in spec.remote_fields(integration)}
    errors: dict[str, list[str]] = {}
    clean: list[FieldMapping] = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        local_field = (row.get("local_field") or "").strip()
        remote_field = (row.get("remote_field") or "").strip()
        if not local_field and not remote_field:
            continue
        prefix = f"rows[{index}]"
        if local_field not in local:
            errors.setdefault(f"{prefix}.local_field", []).append("Choose a Liaison field.")
        if remote and remote_field not in remote:
            errors.setdefault(f"{prefix}.remote_field", []).append(f"{spec.label} has no field “{remote_field}”.")
        if local_field in seen:
            errors.setdefault(f"{prefix}.local_field", []).append("This field is already mapped.")
        seen.add(local_field)
        direction = row.get("direction") or FieldMapping.Direction.BOTH
        policy = row.get("policy") or FieldMapping.Policy.OVERWRITE
        if direction not in FieldMapping.Direction.values:
            errors.setdefault(f"{prefix}.direction", []).append("Choose a direction.")
        if policy not in FieldMapping.Policy.values:
            errors.setdefault(f"{prefix}.policy", []).append("Choose overwrite or fill-if-empty.")
        if remote.get(remote_field) and remote[remote_field].readonly and direction != FieldMapping.Direction.INBOUND:
            errors.setdefault(f"{prefix}.direction", []).append(
                f"{spec.label} does not let Liaison write “{remote_field}”: use Provider → Liaison.")
        clean.append(FieldMapping(integration=integration, local_field=local_field, remote_field=remote_field,
                                  direction=direction, policy=policy))
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        integration.mappings.all().delete()
        FieldMapping.objects.bulk_create(clean)
    return list(integration.mappings.all())


def prune_api_calls(ctx=None) -> int:
    cutoff = timezone.now() - API_CALL_RETENTION
    deleted, _ = ApiCall.objects.filter(at__lt=cutoff).delete()
    return deleted

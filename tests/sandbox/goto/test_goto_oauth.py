"""OAuth 2.0 flow, token lifetime and identity."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

BASIC = "Basic " + base64.b64encode(b"liaison-demo:liaison-demo-secret").decode()
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": BASIC}
INVALID_TOKEN = {"int_err_code": "InvalidToken", "msg": "Invalid token passed"}


def _query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _exchange(client: httpx.Client, code: str, redirect_uri: str | None = "https://app.example/cb") -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code}
    if redirect_uri:
        data["redirect_uri"] = redirect_uri
    return client.post("/oauth/token", data=data, headers={"Authorization": BASIC})


def test_authorize_page_then_allow_redirects_with_code_and_state(client, sandbox):
    params = {"client_id": "liaison-demo", "response_type": "code", "redirect_uri": "https://app.example/cb",
              "state": "xyz"}
    page = client.get("/oauth/authorize", params=params)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'value="allow"' in page.text and ">Allow<" in page.text
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    assert action == "http://sandbox/oauth/authorize"
    organizer = sandbox.default_organizer()
    answer = client.post("/oauth/authorize", data={**params, "user": str(organizer.organizer_key),
                                                   "decision": "allow"})
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith("https://app.example/cb?")
    query = _query(location)
    assert query["state"] == "xyz" and query["code"]

    tokens = _exchange(client, query["code"])
    assert tokens.status_code == 200
    body = tokens.json()
    assert set(body) == {"access_token", "token_type", "refresh_token", "expires_in", "scope", "principal"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["principal"] == organizer.email
    assert "organizer_key" not in body and "account_key" not in body
    assert len(body["access_token"]) > 200


def test_deny_redirects_with_access_denied(client):
    params = {"client_id": "liaison-demo", "response_type": "code", "redirect_uri": "https://app.example/cb",
              "state": "s1", "decision": "deny"}
    answer = client.post("/oauth/authorize", data=params)
    assert answer.status_code == 302
    assert _query(answer.headers["location"]) == {
        "error": "access_denied", "error_description": "The user denied access.", "state": "s1"}


def test_auto_approve_flag_and_user_choice(client, sandbox):
    other = list(sandbox.state.organizers.values())[1]
    answer = client.get("/oauth/authorize", params={
        "client_id": "liaison-demo", "response_type": "code", "redirect_uri": "https://app.example/cb?x=1",
        "sandbox_auto_approve": "1", "sandbox_user": other.email})
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith("https://app.example/cb?x=1&code=")
    tokens = _exchange(client, _query(location)["code"], "https://app.example/cb?x=1").json()
    me = client.get("/identity/v1/Users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.json()["id"] == str(other.organizer_key)


def test_authorize_rejects_unknown_client_and_unregistered_redirect(client, sandbox):
    unknown = client.get("/oauth/authorize", params={"client_id": "nope", "redirect_uri": "https://a/b"})
    assert unknown.status_code == 400
    sandbox.add_oauth_client("strict", "s3cret", ["https://only.example/cb"])
    bad = client.get("/oauth/authorize", params={"client_id": "strict", "redirect_uri": "https://evil.example/cb"})
    assert bad.status_code == 400 and "not registered" in bad.text
    # Without redirect_uri the registered one is used and need not be repeated at the token endpoint.
    answer = client.get("/oauth/authorize", params={"client_id": "strict", "sandbox_auto_approve": "true"})
    assert answer.headers["location"].startswith("https://only.example/cb?code=")
    code = _query(answer.headers["location"])["code"]
    basic = "Basic " + base64.b64encode(b"strict:s3cret").decode()
    ok = client.post("/oauth/token", data={"grant_type": "authorization_code", "code": code},
                     headers={"Authorization": basic})
    assert ok.status_code == 200


def test_code_is_single_use_and_bound_to_redirect_uri(client, sandbox):
    code = sandbox.mint_code(redirect_uri="https://app.example/cb")
    assert _exchange(client, code, "https://app.example/other").json()["error"] == "invalid_grant"
    code = sandbox.mint_code(redirect_uri="https://app.example/cb")
    assert _exchange(client, code).status_code == 200
    again = _exchange(client, code)
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant",
                            "error_description": "The authorization code has already been used."}


def test_code_expires(client, sandbox):
    code = sandbox.mint_code(redirect_uri="https://app.example/cb")
    sandbox.advance(601)
    assert _exchange(client, code).json()["error"] == "invalid_grant"


def test_token_endpoint_client_authentication_and_format(client, sandbox):
    code = sandbox.mint_code()
    wrong = "Basic " + base64.b64encode(b"liaison-demo:wrong").decode()
    answer = client.post("/oauth/token", data={"grant_type": "authorization_code", "code": code},
                         headers={"Authorization": wrong})
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert answer.headers["www-authenticate"].startswith("Basic")
    assert client.post("/oauth/token", data={"grant_type": "authorization_code", "code": code}).status_code == 401
    as_json = client.post("/oauth/token", json={"grant_type": "authorization_code", "code": code},
                          headers={"Authorization": BASIC})
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    unsupported = client.post("/oauth/token", data={"grant_type": "password"}, headers={"Authorization": BASIC})
    assert unsupported.json()["error"] == "unsupported_grant_type"
    # Client credentials in the form body are accepted too (Mautic sends both).
    body = client.post("/oauth/token", data={"grant_type": "authorization_code", "code": code,
                                             "client_id": "liaison-demo", "client_secret": "liaison-demo-secret"})
    assert body.status_code == 200


def test_refresh_rotates_and_old_refresh_token_is_refused(client, sandbox):
    first = sandbox.mint_token()
    refreshed = client.post("/oauth/token", data={"grant_type": "refresh_token",
                                                  "refresh_token": first["refresh_token"]},
                            headers={"Authorization": BASIC})
    assert refreshed.status_code == 200
    second = refreshed.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["expires_in"] == 3600
    reused = client.post("/oauth/token", data={"grant_type": "refresh_token",
                                               "refresh_token": first["refresh_token"]},
                         headers={"Authorization": BASIC})
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    me = client.get("/identity/v1/Users/me", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert me.status_code == 200
    third = client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
                        headers={"Authorization": BASIC})
    assert third.status_code == 200


def test_access_token_expires_after_3600_seconds(client, sandbox, token, auth):
    sandbox.advance(3599)
    assert client.get("/identity/v1/Users/me", headers=auth).status_code == 200
    sandbox.advance(1)
    expired = client.get("/identity/v1/Users/me", headers=auth)
    assert expired.status_code == 403
    assert expired.json() == INVALID_TOKEN
    ok = sandbox.default_organizer().organizer_key
    api = client.get(f"/G2W/rest/v2/organizers/{ok}/webinars", headers=auth,
                     params={"fromTime": "2020-01-01T00:00:00Z", "toTime": "2030-01-01T00:00:00Z"})
    assert api.status_code == 403 and api.json() == INVALID_TOKEN
    # The refresh token still works after the access token expired.
    refreshed = client.post("/oauth/token", headers={"Authorization": BASIC},
                            data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    assert refreshed.status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer not-a-token", "Basic abc"])
def test_missing_or_wrong_token_is_403_invalid_token(client, header):
    headers = {"Authorization": header} if header else {}
    answer = client.get("/identity/v1/Users/me", headers=headers)
    assert answer.status_code == 403
    assert answer.json() == INVALID_TOKEN


def test_legacy_oauth_authorization_header(client, token):
    legacy = {"Authorization": f"OAuth oauth_token={token['access_token']}"}
    answer = client.get("/identity/v1/Users/me", headers=legacy)
    assert answer.status_code == 200


def test_users_me_gives_organizer_and_account_keys(client, sandbox, auth, organizer):
    me = client.get("/identity/v1/Users/me", headers=auth)
    assert me.status_code == 200
    body = me.json()
    assert body["id"] == str(organizer.organizer_key)
    assert body["userName"] == organizer.email
    assert body["accounts"][0]["value"] == str(organizer.account_key)
    assert body["accounts"][0]["display"] == sandbox.state.accounts[organizer.account_key].name
    assert body["name"] == {"givenName": organizer.first_name, "familyName": organizer.last_name,
                            "formatted": organizer.name}
    assert int(body["id"]) > 2**53


def test_admin_me(client, sandbox, auth, organizer):
    assert organizer.is_admin
    body = client.get("/admin/rest/v1/me", headers=auth).json()
    assert body["accountKey"] == str(organizer.account_key)
    other = next(o for o in sandbox.state.organizers.values() if not o.is_admin)
    token = sandbox.mint_token(other.email)
    answer = client.get("/admin/rest/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert answer.status_code == 401
    assert answer.json()["errorCode"] == "not.authenticated"


def test_metadata_document(client):
    body = client.get("/.well-known/oauth-authorization-server").json()
    assert body["token_endpoint"] == "http://sandbox/oauth/token"
    assert body["authorization_endpoint"] == "http://sandbox/oauth/authorize"

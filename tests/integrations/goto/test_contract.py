"""Contract tests: every request the GoTo clients send, and every answer the sandbox gives them,
validate against GoTo's OpenAPI documents (the copies in liaison/sandbox/goto/specs).

A whole sync of every product, the webhook set-up and the services' calls go through a
recording transport; each exchange is then checked with openapi-core against the document
of its product (G2M answers with G2M's own ``...T09:00:00.+0000`` date-time format; see
specs/README.txt). GoToAssist Remote Support and identity have no OpenAPI document.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter

import httpx
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from liaison.contacts.models import Contact
from liaison.core.http import transports
from liaison.integrations.goto import services, webhooks
from liaison.integrations.goto.models import Event
from liaison.sandbox.goto.specs import spec_path
from tests.integrations.goto.conftest import API, slot, sync

HOST = "https://api.getgo.com"
PREFIXES = {"/G2W/rest/v2": "g2w", "/G2T/rest": "g2t", "/G2M/rest": "g2m"}
G2M_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\+0000$")


class Recording(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport):
        self.inner = inner
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        self.exchanges.append((request, response))
        return response


@pytest.fixture(scope="module")
def specs():
    g2m = Config(extra_format_validators={"date-time": lambda v: v == "" or bool(G2M_TIME.match(v))})
    return {product: (OpenAPI.from_file_path(str(spec_path(product))),
                      OpenAPI.from_file_path(str(spec_path(product)), config=g2m) if product == "g2m" else None)
            for product in ("g2w", "g2t", "g2m")}


def check(specs, request: httpx.Request, response: httpx.Response) -> str | None:
    product = next((p for prefix, p in PREFIXES.items() if request.url.path.startswith(prefix)), None)
    if product is None:
        return None
    requests_api, responses_api = specs[product]
    mock_request = MockRequest(HOST, request.method, request.url.path, args=list(request.url.params.multi_items()),
                               headers=dict(request.headers), data=request.content or None,
                               content_type=request.headers.get("content-type", "application/json"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openapi-core cannot check oauth2 security schemes
        requests_api.validate_request(mock_request)
        mock_response = MockResponse(response.content, status_code=response.status_code,
                                     headers=dict(response.headers),
                                     content_type=response.headers.get("content-type", ""))
        (responses_api or requests_api).validate_response(mock_request, mock_response)
    return product


@pytest.mark.django_db
def test_every_exchange_of_a_sync_and_the_services_follows_the_specs(specs, account, sandbox):
    recording = Recording(httpx.WSGITransport(app=sandbox))
    with transports.mounted(API, recording):
        webhooks.enable(account)
        assert sync(account).status == "succeeded"
        assert sync(account, full=True).status == "succeeded"
        ada = Contact.objects.create(email="ada@example.com", email_key="ada@example.com", first_name="Ada",
                                     last_name="Lovelace")
        webinar = sandbox.add_webinar("Contract", [slot(sandbox, days=3)])[0]
        training = sandbox.add_training("Contract course", [slot(sandbox, days=3)])
        sync(account, product="webinar", id=str(webinar.webinar_key))
        sync(account, product="training", id=str(training.training_key))
        for product in ("webinar", "training"):
            event = Event.objects.get(product=product, provider_key=str(
                webinar.webinar_key if product == "webinar" else training.training_key))
            registration = services.register_contact(event, ada).registration
            Contact.objects.filter(pk=ada.pk).update(email="Ada@example.com")
            registration.delete()
            services.register_contact(event, ada)  # 409 DuplicateRegistrant, then the registrant is read
            services.cancel_registration(event.registrations.get())
            services.start_url(event)
        services.start_url(Event.objects.filter(product="meeting").first())
        webhooks.disable(account)
    checked = Counter()
    for request, response in recording.exchanges:
        product = check(specs, request, response)
        if product:
            checked[(product, request.method, response.status_code)] += 1
    by_product = Counter(product for product, _, _ in checked.elements())
    assert by_product["g2w"] >= 30 and by_product["g2t"] >= 8 and by_product["g2m"] >= 6
    assert ("g2w", "POST", 409) in checked and ("g2t", "POST", 409) in checked
    assert ("g2w", "DELETE", 204) in checked and ("g2w", "PUT", 204) in checked

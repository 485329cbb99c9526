"""A webhook receiver served in-process (WSGI, mounted for its base URL: no sockets)."""

from __future__ import annotations

import httpx
import pytest

from liaison.core.http import transports

RECEIVER = "http://receiver.test"


class Receiver:
    """Records every POST; answers from a script of (status, headers, body), then 200."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list[tuple[int, dict, bytes]] = []

    def answer(self, *answers: int | tuple[int, dict]) -> None:
        for item in answers:
            status, headers = (item, {}) if isinstance(item, int) else item
            self.script.append((status, headers, f"status {status}".encode()))

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        headers["Content-Type"] = environ.get("CONTENT_TYPE", "")
        self.requests.append({"path": environ["PATH_INFO"], "query": environ.get("QUERY_STRING", ""),
                              "headers": headers, "body": body})
        status, extra, text = self.script.pop(0) if self.script else (200, {}, b"ok")
        start_response(f"{status} X", [("Content-Type", "text/plain"), ("Content-Length", str(len(text))),
                                       *extra.items()])
        return [text]


@pytest.fixture
def receiver():
    app = Receiver()
    with transports.mounted(RECEIVER, httpx.WSGITransport(app=app)):
        yield app


@pytest.fixture
def unreachable():
    """A receiver whose connection is refused."""

    def refuse(request):
        raise httpx.ConnectError("Connection refused", request=request)

    with transports.mounted("http://down.test", httpx.MockTransport(refuse)):
        yield "http://down.test/hook"

"""The demo's WSGI application: Liaison, with the sandbox emulators under /sandbox/<name>/."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liaison.settings")

from liaison.wsgi import application as liaison_application


class SandboxDispatcher:
    """Routes /sandbox/<name>/... to that emulator (SCRIPT_NAME set), the rest to Liaison."""

    def __init__(self, app, sandboxes: dict):
        self.app = app
        self.sandboxes = sandboxes

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/sandbox/"):
            name, _, rest = path[len("/sandbox/"):].partition("/")
            sandbox = self.sandboxes.get(name)
            if sandbox is not None:
                environ = dict(environ)
                environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + f"/sandbox/{name}"
                environ["PATH_INFO"] = "/" + rest
                return sandbox(environ, start_response)
        return self.app(environ, start_response)


def build() -> SandboxDispatcher:
    from liaison.demo import sandboxes

    apps = {name: sandboxes.factory(name)(**sandboxes.demo_options(name)) for name in sandboxes.available()}
    return SandboxDispatcher(liaison_application, apps)


application = build()

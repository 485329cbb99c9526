"""GoTo sandbox: a stateful WSGI emulator of GoTo's public APIs.

One base URL serves OAuth (``/oauth/authorize``, ``/oauth/token``), identity
(``/identity/v1/Users/me``), GoToWebinar v2 (``/G2W/rest/v2``), GoToTraining
(``/G2T/rest``), GoToMeeting (``/G2M/rest``), GoToAssist Remote Support
(``/G2A/rest/v1``) and the control group (``/_sandbox``). See docs/sandbox/goto.md.

    from liaison.sandbox.goto import create_app, SeedConfig
    app = create_app(seed=1, config=SeedConfig(webinars=50))
"""

from ..common import FaultSettings, OffsetClock
from .app import GoToSandbox, SandboxSettings, create_app
from .oauth import DEMO_CLIENT, OAuthClient
from .seed import SeedConfig
from .state import G2A_CAPABILITIES
from .webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify_signature

__all__ = [
    "DEMO_CLIENT",
    "G2A_CAPABILITIES",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "FaultSettings",
    "GoToSandbox",
    "OAuthClient",
    "OffsetClock",
    "SandboxSettings",
    "SeedConfig",
    "create_app",
    "sign",
    "verify_signature",
]

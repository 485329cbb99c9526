"""OpenAPI documents the GoTo sandbox is checked against (see README.txt for provenance).

``spec_path("g2w")`` / ``"g2t"`` / ``"g2m"`` gives the file; the API client's contract
tests can load the same files.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent

SPEC_FILES = {
    "g2w": "goto-webinar-v2-openapi.yaml",
    "g2t": "gototraining-v1-openapi.yaml",
    "g2m": "gotomeeting-v1-openapi.yaml",
}

# Where each document's paths live on api.getgo.com (its ``servers`` entry).
SERVERS = {
    "g2w": "https://api.getgo.com/G2W/rest/v2",
    "g2t": "https://api.getgo.com/G2T/rest",
    "g2m": "https://api.getgo.com/G2M/rest",
}


def spec_path(product: str) -> Path:
    """The OpenAPI file for ``product`` (``g2w``, ``g2t`` or ``g2m``)."""
    return _HERE / SPEC_FILES[product]

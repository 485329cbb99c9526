"""Serve the GoTo sandbox on its own: ``python -m liaison.sandbox.goto --port 8765``.

Every :class:`SeedConfig` field is an option (``--webinars 200 --registrants-per-webinar
1000``); ``--latency 0.02`` and friends set the initial fault settings.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from ..common import FaultSettings, serve
from .app import GoToSandbox, SandboxSettings
from .seed import SeedConfig


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m liaison.sandbox.goto", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--control-token", default=None, help="require X-Sandbox-Token on /_sandbox")
    parser.add_argument("--public-base-url", default=None,
                        help="base URL for links built before the first request (default http://HOST:PORT)")
    seed = parser.add_argument_group("seed data")
    for f in dataclasses.fields(SeedConfig):
        if f.name == "g2a_capabilities":
            continue
        seed.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    faults = parser.add_argument_group("faults")
    faults.add_argument("--latency", type=float, default=0.0)
    faults.add_argument("--error-rate", type=float, default=0.0)
    faults.add_argument("--rate-limit-after", type=int, default=None)
    faults.add_argument("--rate-limit-for-seconds", type=float, default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = SeedConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(SeedConfig)
                           if f.name != "g2a_capabilities"})
    config.validate()
    settings = SandboxSettings(control_token=args.control_token,
                               public_base_url=args.public_base_url or f"http://{args.host}:{args.port}")
    faults = FaultSettings(latency=args.latency, error_rate=args.error_rate, rate_limit_after=args.rate_limit_after,
                           rate_limit_for_seconds=args.rate_limit_for_seconds)
    sandbox = GoToSandbox(seed=args.seed, config=config, settings=settings, faults=faults)
    counts = sandbox.state.counts()
    print(f"GoTo sandbox on http://{args.host}:{args.port} (seed {args.seed}: {counts['webinars']} webinars, "
          f"{counts['webinarRegistrants']} registrants). OAuth client liaison-demo / liaison-demo-secret. "
          "Ctrl-C to stop.", file=sys.stderr)
    serve(sandbox, args.host, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Stand-alone WSGI emulators of the providers' public APIs.

The sandbox imports nothing of Liaison: product code never imports it (only tests,
benchmarks and the demo wiring do).
"""

"""``liaison up``: migrate, make sure an admin exists, then run the web server, a worker
and the scheduler as supervised child processes that stop cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from liaison.users.services import ensure_admin


class Child:
    def __init__(self, name: str, argv: list[str], env: dict[str, str]):
        self.name = name
        self.argv = argv
        self.env = env
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self.next_start = 0.0

    def start(self) -> None:
        # A session of its own: Ctrl-C reaches the supervisor only, which stops the
        # children in order instead of all of them racing.
        self.process = subprocess.Popen(self.argv, env=self.env, start_new_session=True)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)


class Command(BaseCommand):
    help = "Run Liaison: migrate, create an admin if none, then the web server, a worker and the scheduler."

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true",
                            help="Seed demo data and connect the integrations to the built-in sandbox.")
        parser.add_argument("--host", default=os.environ.get("LIAISON_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("LIAISON_PORT", "8000")))
        parser.add_argument("--web-workers", type=int, default=int(os.environ.get("LIAISON_WEB_WORKERS", "2")))
        parser.add_argument("--web-threads", type=int, default=int(os.environ.get("LIAISON_WEB_THREADS", "8")))
        parser.add_argument("--no-worker", action="store_true", help="Do not start a worker (one runs elsewhere).")
        parser.add_argument("--no-scheduler", action="store_true", help="Do not start the scheduler.")

    def handle(self, *args, demo, host, port, web_workers, web_threads, no_worker, no_scheduler, **options):
        self.stdout.write("Applying database migrations…")
        call_command("migrate", interactive=False, verbosity=0)
        user, password = ensure_admin()
        if password:
            self.stdout.write(self.style.WARNING(
                f"\nAn administrator was created. Sign in as “{user.username}” with the password:\n\n"
                f"    {password}\n\nIt is shown only this once: change it under Users.\n"))
        env = dict(os.environ)
        env.setdefault("LIAISON_BASE_URL", f"http://{host}:{port}")
        env["DJANGO_SETTINGS_MODULE"] = os.environ.get("DJANGO_SETTINGS_MODULE", "liaison.settings")
        wsgi_app = "liaison.wsgi:application"
        if demo:
            from liaison.demo import services as demo_services

            env["LIAISON_DEMO"] = "1"
            settings.LIAISON_BASE_URL = env["LIAISON_BASE_URL"]
            summary = demo_services.prepare_demo(self.stdout.write)
            self.stdout.write(summary)
            from liaison.demo import goto as demo_goto

            self.stdout.write(demo_goto.prepare(env["LIAISON_BASE_URL"]))
            wsgi_app = "liaison.demo.wsgi:application"
            # The sandbox keeps its state in the web process: one process, many threads.
            web_workers = 1
        python = sys.executable
        children = [Child("web", [python, "-m", "gunicorn", wsgi_app, "--bind", f"{host}:{port}",
                                  "--workers", str(web_workers), "--threads", str(web_threads),
                                  "--worker-class", "gthread", "--graceful-timeout", "10",
                                  "--access-logfile", "-" if options.get("verbosity", 1) > 1 else "/dev/null"], env)]
        if not no_worker:
            children.append(Child("worker", [python, "-m", "liaison.cli", "worker"], env))
        if not no_scheduler:
            children.append(Child("scheduler", [python, "-m", "liaison.cli", "scheduler"], env))
        self._supervise(children, env["LIAISON_BASE_URL"])

    def _supervise(self, children: list[Child], url: str) -> None:
        stopping = False

        def on_signal(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        for child in children:
            child.start()
        self.stdout.write(self.style.SUCCESS(f"Liaison is running at {url}/ — press Ctrl-C to stop."))
        try:
            while not stopping:
                time.sleep(0.5)
                for child in children:
                    if child.alive() or stopping:
                        continue
                    now = time.monotonic()
                    if child.next_start == 0.0:
                        code = child.process.returncode if child.process else "?"
                        delay = min(30.0, 2.0 ** min(child.restarts, 5))
                        self.stderr.write(f"{child.name} stopped (exit {code}); restarting in {delay:.0f} s.")
                        child.next_start = now + delay
                    elif now >= child.next_start:
                        child.restarts += 1
                        child.next_start = 0.0
                        child.start()
        finally:
            self.stdout.write("Stopping…")
            for child in reversed(children):
                child.stop()
            deadline = time.monotonic() + 15
            for child in children:
                if child.process is None:
                    continue
                try:
                    child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()
            self.stdout.write("Stopped.")

from django.core.management.base import BaseCommand, CommandError

from liaison.demo import sandboxes


class Command(BaseCommand):
    help = "Serve a provider emulator on its own (for outside tools): liaison sandbox serve goto --port 8001."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["serve", "list"])
        parser.add_argument("name", nargs="?", default="goto")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, action, name, host, port, seed, **options):
        available = sandboxes.available()
        if action == "list":
            self.stdout.write("\n".join(available) or "No sandbox is installed.")
            return
        if name not in available:
            raise CommandError(f"No sandbox called {name!r}; available: {', '.join(available) or 'none'}.")
        from liaison.sandbox.common import serve

        app = sandboxes.factory(name)(**{**sandboxes.demo_options(name), "seed": seed})
        self.stdout.write(f"Serving the {name} sandbox at http://{host}:{port}/ (Ctrl-C to stop).")
        serve(app, host, port)

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data and the wiring that mounts the sandbox emulators (``liaison up --demo``)."""

    name = "liaison.demo"
    label = "demo"
    verbose_name = "Demo"

    def ready(self) -> None:
        import httpx

        from liaison.core.contributions import JobKind
        from liaison.core.registry import registry
        from liaison.demo.goto import connect

        registry.register(
            # Retried while the demo's web server is still starting (connection refused).
            JobKind(key="demo.connect_goto", label="Connect the demo GoTo account", run=connect, max_attempts=12,
                    backoff=2, backoff_cap=30, retry_on=(httpx.TransportError,),
                    concurrency_key=lambda params: f"demo.connect_goto:{params.get('integration_id')}"),
        )

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data and the wiring that mounts the sandbox emulators (``liaison up --demo``)."""

    name = "liaison.demo"
    label = "demo"
    verbose_name = "Demo"

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"

    def ready(self) -> None:
        # The worker's signal receivers and remote-control commands: registering them is all
        # importing does, so the web process pays nothing for it.
        from operations import control, heartbeat  # noqa: F401

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"

    def ready(self) -> None:
        from operations import heartbeat  # noqa: F401  (connects the worker's receivers)

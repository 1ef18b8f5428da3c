from django.apps import AppConfig


class TranscriptionConfig(AppConfig):
    name = "transcription"

    def ready(self) -> None:
        from transcription import signals  # noqa: F401  (connects the receivers)

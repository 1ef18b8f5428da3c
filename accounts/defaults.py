"""What a team's upload defaults may be: the site's enabled models and the known languages."""

from django.conf import settings

from gpu_engine.presets import LANGUAGES, language_refusal

MAX_RETENTION_DAYS = 36500


def model_choices() -> list[tuple[str, str]]:
    site_default = f"The site's default ({settings.ASR_MODEL})"
    return [("", site_default), *((model, model) for model in settings.ASR_ENABLED_MODELS)]


def language_choices() -> list[tuple[str, str]]:
    return list(LANGUAGES.items())


def model_refusal(model: str) -> str | None:
    if model and model not in settings.ASR_ENABLED_MODELS:
        enabled = ", ".join(settings.ASR_ENABLED_MODELS)
        return f"'{model}' is not an enabled model ({enabled})."
    return None


def defaults_refusal(model: str, language: str) -> str | None:
    """Why uploads could not use this pair of defaults, or None."""
    return language_refusal(model or settings.ASR_MODEL, language)

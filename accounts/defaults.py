"""What a team's upload defaults may be: the site's enabled models and the known languages."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from gpu_engine.presets import LANGUAGES, language_refusal

# gpu_engine's language names (it imports no Django), in the pages' language; a code missing
# here is shown with gpu_engine's English name.
LANGUAGE_NAMES = {
    "auto": _("Detect automatically"),
    "zh": _("Chinese (Mandarin, simplified)"),
    "zh-TW": _("Chinese (Mandarin, traditional)"),
    "yue": _("Cantonese"),
    "en": _("English"),
    "ja": _("Japanese"),
    "ko": _("Korean"),
    "de": _("German"),
    "fr": _("French"),
    "es": _("Spanish"),
    "it": _("Italian"),
    "pt": _("Portuguese"),
    "ru": _("Russian"),
    "ar": _("Arabic"),
    "hi": _("Hindi"),
    "vi": _("Vietnamese"),
    "id": _("Indonesian"),
    "th": _("Thai"),
    "tr": _("Turkish"),
    "nl": _("Dutch"),
    "pl": _("Polish"),
    "uk": _("Ukrainian"),
}

MAX_RETENTION_DAYS = 36500


def model_choices() -> list[tuple[str, str]]:
    site_default = _("The site's default (%(model)s)") % {"model": settings.ASR_MODEL}
    return [("", site_default), *((model, model) for model in settings.ASR_ENABLED_MODELS)]


def language_choices() -> list[tuple[str, str]]:
    return [(code, str(LANGUAGE_NAMES.get(code, name))) for code, name in LANGUAGES.items()]


def model_refusal(model: str) -> str | None:
    if model and model not in settings.ASR_ENABLED_MODELS:
        enabled = ", ".join(settings.ASR_ENABLED_MODELS)
        return f"'{model}' is not an enabled model ({enabled})."
    return None


def defaults_refusal(model: str, language: str) -> str | None:
    """Why uploads could not use this pair of defaults, or None."""
    return language_refusal(model or settings.ASR_MODEL, language)

"""Hotwords: what counts as one, and which ones a job gets (its own and the saved lists)."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from gpu_engine.presets import HOTWORDS_PROMPT, hotword_support, model_sources

MAX_HOTWORDS = 200
MAX_HOTWORD_LENGTH = 100


def clean_hotwords(text: str) -> list[str]:
    """One word or phrase a line. Never a path or URL: some engines would read or fetch it."""
    words = list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))
    if len(words) > MAX_HOTWORDS:
        raise ValidationError(f"At most {MAX_HOTWORDS} hotwords.")
    for word in words:
        if len(word) > MAX_HOTWORD_LENGTH or "://" in word or word.startswith(("/", "~", ".")):
            raise ValidationError(f"Not a hotword: {word[:40]!r}.")
    return words


def hotwords_for_job(*, owner: AbstractBaseUser, typed: str) -> str:
    """The job's own hotwords first, then those of the owner's active saved lists."""
    words = clean_hotwords(typed)
    for saved in owner.hotword_lists.filter(active=True):
        words.extend(saved.word_list)
    return "\n".join(list(dict.fromkeys(words))[:MAX_HOTWORDS])


def model_hotword_support(model: str) -> str | None:
    source = model_sources(settings.ASR_MODEL_SOURCES).get(model, "")
    return hotword_support(model, source)


def hotwords_note(model: str) -> str:
    """What the user should know about hotwords on this model; empty when they apply fully."""
    support = model_hotword_support(model)
    if support is None:
        return f"{model} does not use hotwords: they are kept with the job but not applied."
    if support == HOTWORDS_PROMPT:
        return f"{model} takes hotwords as a prompt hint: they make these words likelier."
    return ""

"""Hotwords: what counts as one, and which ones a job gets (its own and the saved lists)."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Team
from gpu_engine.presets import HOTWORDS_PROMPT, hotword_support, model_sources
from transcription.models import HotwordList

MAX_HOTWORDS = 200
MAX_HOTWORD_LENGTH = 100
# What a team member is told, by the API and the pages, when they try to change a team's list.
LIST_STEWARDS_ONLY = _("Only the team's owners and admins can change its hotword lists.")


def clean_hotwords(text: str) -> list[str]:
    """One word or phrase a line. Never a path or URL: some engines would read or fetch it."""
    words = list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))
    if len(words) > MAX_HOTWORDS:
        raise ValidationError(_("At most %(most)s hotwords.") % {"most": MAX_HOTWORDS})
    for word in words:
        if len(word) > MAX_HOTWORD_LENGTH or "://" in word or word.startswith(("/", "~", ".")):
            raise ValidationError(_("Not a hotword: %(word)r.") % {"word": word[:40]})
    return words


def hotwords_for_job(*, owner: AbstractBaseUser, team: Team | None = None, typed: str) -> str:
    """The job's own hotwords first, then those of the uploader's active saved lists, then, for
    a team recording, those of the team's active lists."""
    words = clean_hotwords(typed)
    lists = Q(owner=owner, team__isnull=True)
    if team is not None:
        lists |= Q(team=team)
    saved = HotwordList.objects.filter(lists, active=True)
    for hotword_list in saved.order_by(F("team").asc(nulls_first=True), "name"):
        words.extend(hotword_list.word_list)
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

"""What the upload page says about each model: a line on its languages and strengths, and how
fast it ran on the workers lately (the median speed of its recent jobs, from their telemetry)."""

from statistics import median

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from transcription.models import Job, JobStatus

# The built-in presets (gpu_engine.presets); a preset added in ASR_MODEL_SOURCES has none.
DESCRIPTIONS = {
    "whisper-base": _("Whisper base: about 100 languages; small and fast, rougher on names."),
    "whisper-large-v3": _(
        "Whisper large v3: about 100 languages; the most accurate Whisper, and the slowest."
    ),
    "whisper-large-v3-turbo": _(
        "Whisper large v3 turbo: about 100 languages; close to large v3, several times faster."
    ),
    "sensevoice-small": _(
        "SenseVoice small: Chinese, Cantonese, English, Japanese, Korean; very fast."
    ),
    "paraformer-zh": _(
        "Paraformer (Chinese): Mandarin only, with punctuation; strong on Chinese, uses hotwords."
    ),
    "fun-asr-nano": _(
        "Fun-ASR Nano: Chinese, English, Japanese, Korean; an LLM-based model, accurate, slower."
    ),
}
# How many of a model's latest succeeded jobs its speed is the median of.
SPEED_SAMPLE = 20


def model_descriptions() -> dict[str, dict]:
    """Per enabled model: its description ("" if none) and speed_x, the median times real time
    of its recent jobs (None before it ran). Not the device: that names the infrastructure,
    for staff only."""
    return {model: _describe(model) for model in settings.ASR_ENABLED_MODELS}


def _describe(model: str) -> dict:
    recent = list(
        Job.objects.filter(model=model, status=JobStatus.SUCCEEDED, speed_x__isnull=False)
        .order_by("-finished_at")
        .values_list("speed_x", flat=True)[:SPEED_SAMPLE]
    )
    return {
        "description": str(DESCRIPTIONS.get(model, "")),
        "speed_x": round(median(recent), 1) if recent else None,
    }

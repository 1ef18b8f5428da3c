"""Inverse text normalisation (spoken numbers -> digits) with WeTextProcessing's grammars (wetext).

Applied to models that write numbers out in words (Paraformer, SenseVoice without its own ITN);
Whisper already writes digits and is left alone.
"""

import functools
import re

ITN_LANGUAGES = ("zh", "en", "ja")
# wetext writes a Chinese date as 2025/10/05; a Chinese transcript reads 2025年10月5日.
SLASHED_DATE = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})")


@functools.cache
def _normalizer(language: str):
    from wetext import Normalizer

    return Normalizer(lang=language, operator="itn")


def inverse_normalize(text: str, language: str) -> str:
    """Digits for spoken numbers in zh, en and ja ("" lets wetext tell zh from en); other
    languages pass through unchanged."""
    language = language.split("-")[0].lower() or "auto"
    if language not in (*ITN_LANGUAGES, "auto") or not text.strip():
        return text
    written = _normalizer(language).normalize(text)
    if language in ("zh", "auto"):
        written = SLASHED_DATE.sub(_chinese_date, written)
    return written


def _chinese_date(match: re.Match) -> str:
    year, month, day = (int(part) for part in match.groups())
    return f"{year}年{month}月{day}日"

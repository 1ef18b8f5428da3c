import functools
import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from transcription.selectors import search_spellings

register = template.Library()


@register.filter
def clock(seconds: float) -> str:
    """12:05, or 1:02:05 past the hour, as the pages' scripts write times."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


@register.filter
def highlight(text: str, query: str) -> SafeString:
    """`text` escaped, with what the search matched in <mark>."""
    # re.split with a group alternates: text, match, text, match, ..., text.
    parts = _match_pattern(query).split(text)
    marked = (
        f"<mark>{escape(part)}</mark>" if i % 2 else escape(part) for i, part in enumerate(parts)
    )
    return mark_safe("".join(marked))  # every part was escaped above


@functools.lru_cache(maxsize=64)
def _match_pattern(query: str) -> re.Pattern[str]:
    # Built once per query, not once per line of a page of results.
    longest_first = sorted(search_spellings(query), key=len, reverse=True)
    return re.compile("(" + "|".join(map(re.escape, longest_first)) + ")", re.IGNORECASE)

"""What travels between a job's thread and the model's: prepared clips in, results out."""

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Protocol

# A (start, end, text) piece, times in seconds from the start of its clip.
Piece = tuple[float, float, str]
# A word or token of a piece, the same way: (start, end, text).
Word = tuple[float, float, str]


@dataclass(frozen=True)
class ClipResult:
    language: str  # the clip's language code, "" when the model does not say
    pieces: list[Piece] = field(default_factory=list)
    # The timed words of each piece, in the order of `pieces`, where the clip asked for them
    # (PreparedClip.words) and the model gives them; empty otherwise.
    words: list[tuple[Word, ...]] = field(default_factory=list)

    def piece_words(self, index: int) -> tuple[Word, ...]:
        """The words of piece `index`; none when their times are not known."""
        return self.words[index] if index < len(self.words) else ()


class PreparedClip(Protocol):
    """A clip ready for the model, made in the job's thread by its backend."""

    @property
    def seconds(self) -> float:
        """The clip's length."""
        ...

    @property
    def cost_s(self) -> float:
        """The seconds of audio the model pays for this clip in a batch."""
        ...

    @property
    def group(self) -> Hashable:
        """Clips with equal groups can share one model call."""
        ...

"""Segments given to speakers: one speaker a line, a line that a turn change crosses split."""

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from gpu_engine.audio import SAMPLE_RATE, decode_audio
from gpu_engine.backends import backend_for
from gpu_engine.diarization import Turn
from gpu_engine.funasr_backend import FunASRBackend, FunASRClip
from gpu_engine.pipeline import transcribe_file
from gpu_engine.speakers import assign_speakers
from gpu_engine.types import EngineConfig, JobOptions, TranscribedSegment
from tests.audio_files import speech, write_audio
from tests.engine.conftest import ProgressLog, never
from tests.speaker_recordings import build


def segment(start: float, end: float, text: str, words=()) -> TranscribedSegment:
    return TranscribedSegment(start=start, end=end, text=text, words=tuple(words))


def spaced(start: float, text: str, step: float = 0.5) -> list[tuple[float, float, str]]:
    """Whisper's words as it writes them (each after a space), `step` seconds each."""
    return [
        (start + i * step, start + (i + 1) * step - 0.1, f" {word}")
        for i, word in enumerate(text.split())
    ]


def lines(segments: list[TranscribedSegment]) -> list[tuple[float, float, str, str]]:
    return [(s.start, s.end, s.speaker, s.text) for s in segments]


TWO = [Turn(0.0, 3.2, "S1"), Turn(3.2, 8.0, "S2")]


def test_each_segment_goes_to_the_speaker_covering_most_of_it() -> None:
    segments = [segment(0.2, 2.9, "first line"), segment(3.1, 7.5, "second line")]

    assert lines(assign_speakers(segments, TWO)) == [
        (0.2, 2.9, "S1", "first line"),
        (3.1, 7.5, "S2", "second line"),
    ]


def test_a_change_exactly_at_a_segment_boundary_splits_nothing() -> None:
    segments = [segment(0.0, 3.2, "one two three"), segment(3.2, 6.0, "four five")]

    assert lines(assign_speakers(segments, TWO)) == [
        (0.0, 3.2, "S1", "one two three"),
        (3.2, 6.0, "S2", "four five"),
    ]


def test_a_change_inside_a_segment_splits_it_between_the_words_nearest_the_change() -> None:
    text = "it was the best of times it was the worst"
    words = spaced(0.5, text)  # "best" ends at 2.4, "of" at 2.9, "times" from 3.0 to 3.4

    split = assign_speakers([segment(0.5, 5.5, text, words)], TWO)

    # The change at 3.2 falls inside "times": the nearest gap is the one before it (2.95).
    assert lines(split) == [
        (0.5, 3.0, "S1", "it was the best of"),
        (3.0, 5.5, "S2", "times it was the worst"),
    ]
    assert [w[2] for w in split[0].words] == [" it", " was", " the", " best", " of"]


def test_cjk_tokens_split_between_characters() -> None:
    text = "欢迎大家。来体验达摩院"
    tokens = [(0.2 * i, 0.2 * i + 0.15, char) for i, char in enumerate("欢迎大家来体验达摩院")]
    turns = [Turn(0.0, 0.78, "S1"), Turn(0.78, 3.0, "S2")]

    split = assign_speakers([segment(0.0, 2.0, text, tokens)], turns)

    assert lines(split) == [(0.0, 0.78, "S1", "欢迎大家。"), (0.78, 2.0, "S2", "来体验达摩院")]


def test_without_word_times_the_text_splits_in_proportion_at_a_word() -> None:
    # 41 characters over 4 s: the change at 3.2 falls at character 32.8, nearest the start of
    # the second "the" (32) rather than of "worst" (36).
    text = "it was the best of times it was the worst"

    split = assign_speakers([segment(0.0, 4.0, text)], [Turn(0.0, 3.2, "S1"), Turn(3.2, 8, "S2")])

    assert lines(split) == [
        (0.0, 3.2, "S1", "it was the best of times it was"),
        (3.2, 4.0, "S2", "the worst"),
    ]


def test_without_word_times_cjk_splits_at_a_character() -> None:
    split = assign_speakers(
        [segment(0.0, 2.0, "欢迎大家来体验")], [Turn(0, 0.6, "S1"), Turn(0.6, 2, "S2")]
    )

    assert lines(split) == [(0.0, 0.6, "S1", "欢迎"), (0.6, 2.0, "S2", "大家来体验")]


def test_a_segment_with_three_speakers_becomes_three_lines() -> None:
    text = "yes I agree no we should not well maybe"
    turns = [Turn(0.0, 1.6, "S1"), Turn(1.6, 3.6, "S2"), Turn(3.7, 6.0, "S3")]

    split = assign_speakers([segment(0.0, 5.0, text, spaced(0.0, text, 0.55))], turns)

    assert [(s.speaker, s.text) for s in split] == [
        ("S1", "yes I agree"),
        ("S2", "no we should not"),
        ("S3", "well maybe"),
    ]
    assert [s.start for s in split] == [0.0, split[0].end, split[1].end]
    assert split[-1].end == 5.0


def test_a_turn_too_short_to_hold_a_word_does_not_split_the_segment() -> None:
    turns = [Turn(0.0, 2.0, "S1"), Turn(2.0, 2.2, "S2"), Turn(2.2, 5.0, "S1")]

    split = assign_speakers([segment(0.0, 4.0, "one two three four")], turns)

    assert lines(split) == [(0.0, 4.0, "S1", "one two three four")]


def test_a_segment_in_the_silence_between_turns_goes_to_the_nearest_speaker() -> None:
    turns = [Turn(0.0, 2.0, "S1"), Turn(6.0, 8.0, "S2")]

    split = assign_speakers([segment(4.5, 5.5, "hm")], turns)

    assert lines(split) == [(4.5, 5.5, "S2", "hm")]


def test_word_times_that_do_not_match_the_text_fall_back_to_proportion() -> None:
    # ITN rewrote the text after the tokens were timed.
    tokens = [(0.2 * i, 0.2 * i + 0.15, c) for i, c in enumerate("二零二五年花了钱")]
    turns = [Turn(0.0, 1.0, "S1"), Turn(1.0, 2.0, "S2")]

    split = assign_speakers([segment(0.0, 1.6, "2025年花了钱", tokens)], turns)

    assert [s.speaker for s in split] == ["S1", "S2"]
    assert "".join(s.text for s in split) == "2025年花了钱"


# Words only one reader of the two-alternating recording says (LibriSpeech 1995 and 1089).
FIRST_READER = {"sorrow", "life", "cotton", "itself", "fantasy", "hopes", "dreams", "built"}
SECOND_READER = {"nightfall", "yellow", "lamps", "light", "squalid", "quarter", "brothels"}


@pytest.fixture(scope="module")
def two_readers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    recording = build("two-alternating")
    path = tmp_path_factory.mktemp("speakers") / "two-readers.wav"
    return write_audio(path, recording.audio, rate=SAMPLE_RATE, container="wav", codec="pcm_s16le")


def test_whisper_job_with_speakers_puts_each_reader_on_lines_of_their_own(
    engine_config: EngineConfig, two_readers: Path
) -> None:
    progress = ProgressLog()
    options = JobOptions(model="whisper-base", language="en", speakers=True)

    result = transcribe_file(
        two_readers, options, engine_config, on_progress=progress, should_cancel=never
    )

    assert progress.stages == ["decoding", "segmenting", "transcribing", "diarizing", "finalizing"]
    percents = [percent for _, percent, _ in progress.reports]
    assert percents == sorted(percents)
    labels = {}
    for line in result.segments:
        words = set(re.findall(r"[a-z]+", line.text.lower()))
        readers = {name for name, said in (("1995", FIRST_READER), ("1089", SECOND_READER))
                   if words & said}  # fmt: skip
        assert len(readers) <= 1, f"two readers on one line: {line}"
        for reader in readers:
            labels.setdefault(reader, set()).add(line.speaker)
    # Each reader under one label of their own.
    assert labels["1995"] != labels["1089"]
    assert len(labels["1995"]) == len(labels["1089"]) == 1
    assert {s.speaker for s in result.segments} == labels["1995"] | labels["1089"]
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts)


def test_whisper_times_the_words_of_only_the_clips_that_ask(engine_config: EngineConfig) -> None:
    backend = backend_for("whisper-base", engine_config, ProgressLog())
    clip = decode_audio(speech("en_librispeech_1089-134686-0001.wav"), max_seconds=60)
    asking, plain = (
        backend.prepare(clip, JobOptions(model="whisper-base", language="en", speakers=speakers))
        for speakers in (True, False)
    )

    timed, untimed = backend.recognize_batch([asking, plain])

    assert timed.pieces == untimed.pieces
    assert untimed.words == []
    assert len(timed.words) == len(timed.pieces)
    for (start, end, text), words in zip(timed.pieces, timed.words, strict=True):
        assert "".join(word for _, _, word in words) == text
        assert all(start - 0.5 <= a <= b <= end + 0.5 for a, b, _ in words)
    assert "nightfall" in timed.words[0][2][2].lower()


def test_funasr_sentences_keep_their_token_times_when_asked() -> None:
    result = {"text": "欢迎大家。Welcome all", "timestamp": [[300, 450], [500, 650], [700, 850],
              [900, 1050], [1100, 1300], [1400, 1600]]}  # fmt: skip
    clip = FunASRClip(audio=np.zeros(2 * SAMPLE_RATE), requested="zh", itn=False, group=())

    timed = FunASRBackend.clip_result(result, dataclasses.replace(clip, words=True))

    assert timed.pieces == [(0.3, 1.05, "欢迎大家。"), (1.1, 1.6, "Welcome all")]
    assert timed.words == [
        ((0.3, 0.45, "欢"), (0.5, 0.65, "迎"), (0.7, 0.85, "大"), (0.9, 1.05, "家")),
        ((1.1, 1.3, "Welcome"), (1.4, 1.6, "all")),
    ]
    assert FunASRBackend.clip_result(result, clip).words == []


def test_a_single_word_across_a_change_goes_to_who_speaks_most_of_it() -> None:
    turns = [Turn(0.0, 1.2, "S1"), Turn(1.2, 5.0, "S2")]

    assert lines(assign_speakers([segment(1.0, 2.0, "yes")], turns)) == [(1.0, 2.0, "S2", "yes")]


def test_word_times_outweigh_a_speaker_who_holds_only_the_silence_after_them() -> None:
    turns = [Turn(0.0, 1.5, "S1"), Turn(1.5, 5.0, "S2")]

    split = assign_speakers([segment(0.0, 4.0, "one two", spaced(0.2, "one two"))], turns)

    assert lines(split) == [(0.0, 4.0, "S1", "one two")]

"""Who spoke when, on recordings built from the shared clips with their turns known."""

import itertools
from pathlib import Path

import numpy as np
import pytest

from gpu_engine.diarization import (
    CAMPPLUS_PRESET,
    MAX_CLUSTERED,
    Turn,
    _cluster,
    diarize,
)
from gpu_engine.types import EngineConfig, EngineError, JobCancelled, ModelUnavailableError
from gpu_engine.vad import Span, detect_speech
from tests.engine.conftest import MODELS_DIR
from tests.scoring import diarization_error_rate
from tests.speaker_recordings import SpeakerRecording, build, speaker_recordings
from tests.tiny_models import build_tiny_campplus

TINY_CAMPPLUS = "tiny-campplus"

# The bars: DER at most this on files with that many speakers.
MAX_DER = {1: 0.15, 2: 0.15, 3: 0.25}


@pytest.fixture(scope="module")
def recordings() -> dict[str, tuple[SpeakerRecording, list[Span]]]:
    return {r.name: (r, detect_speech(r.audio, threads=1)) for r in speaker_recordings()}


@pytest.fixture(scope="module")
def found(recordings: dict) -> dict[str, list[Turn]]:
    """Each file diarized once, the number of speakers left to be found."""
    return {name: diarize(r.audio, spans) for name, (r, spans) in recordings.items()}


def as_tuples(turns: list[Turn]) -> list[tuple[float, float, str]]:
    return [(t.start, t.end, t.speaker) for t in turns]


def speakers(turns: list[Turn]) -> set[str]:
    return {t.speaker for t in turns}


@pytest.mark.parametrize("name", ["two-alternating", "two-no-pause", "two-zh-en", "three", "one"])
def test_diarization_error_rate_is_within_the_bar(
    name: str, recordings: dict, found: dict[str, list[Turn]]
) -> None:
    recording, _ = recordings[name]

    der = diarization_error_rate(recording.reference, as_tuples(found[name]))

    assert der <= MAX_DER[recording.speakers], f"{name}: DER {der:.3f}"


def test_speaker_count_is_found_on_at_least_four_files_of_five(
    recordings: dict, found: dict[str, list[Turn]]
) -> None:
    counts = {name: (len(speakers(found[name])), r.speakers) for name, (r, _) in recordings.items()}

    assert sum(got == want for got, want in counts.values()) >= 4, counts


def test_one_reader_is_one_speaker(found: dict[str, list[Turn]]) -> None:
    assert speakers(found["one"]) == {"S1"}


def test_turns_are_sorted_apart_inside_the_speech_and_labelled_in_order(
    recordings: dict, found: dict[str, list[Turn]]
) -> None:
    for name, (_, spans) in recordings.items():
        turns = found[name]
        assert all(t.start < t.end for t in turns)
        assert all(a.end <= b.start for a, b in itertools.pairwise(turns))
        assert all(any(s <= t.start and t.end <= e for s, e in spans) for t in turns)
        first_seen = list(dict.fromkeys(t.speaker for t in turns))
        assert first_seen == [f"S{i}" for i in range(1, len(first_seen) + 1)]


def test_the_turn_change_without_a_pause_is_placed_within_a_second(
    recordings: dict, found: dict[str, list[Turn]]
) -> None:
    recording, spans = recordings["two-no-pause"]
    change = next(b[0] for a, b in itertools.pairwise(recording.reference) if a[2] != b[2])
    turns = found["two-no-pause"]

    assert len(spans) == 1
    assert [t.speaker for t in turns] == ["S1", "S2"]
    assert abs(turns[0].end - change) <= 1.0


@pytest.mark.parametrize(("name", "count"), [("one", 2), ("three", 2), ("two-alternating", 3)])
def test_a_given_number_of_speakers_is_respected(name: str, count: int, recordings: dict) -> None:
    recording, spans = recordings[name]

    assert len(speakers(diarize(recording.audio, spans, num_speakers=count))) == count


def test_bounds_on_the_number_found_are_respected(recordings: dict) -> None:
    three, three_spans = recordings["three"]
    one, one_spans = recordings["one"]

    assert len(speakers(diarize(three.audio, three_spans, max_speakers=2))) == 2
    assert len(speakers(diarize(one.audio, one_spans, min_speakers=2))) == 2
    assert len(speakers(diarize(three.audio, three_spans, min_speakers=2, max_speakers=4))) == 3


def test_odd_speech_spans_still_give_turns_apart() -> None:
    audio = np.zeros(16000 * 3, dtype=np.float32)  # digital silence

    assert diarize(audio, []) == []
    assert diarize(audio, [(1.0, 1.2)]) == [Turn(1.0, 1.2, "S1")]  # too short to embed
    # Overlapping spans are joined, and cut where the audio ends.
    assert diarize(audio, [(0.0, 2.0), (1.5, 5.0)]) == [Turn(0.0, 3.0, "S1")]


def test_cancelling_stops_diarization() -> None:
    recording = build("two-alternating")

    with pytest.raises(JobCancelled):
        diarize(recording.audio, [(0.0, recording.seconds)], should_cancel=lambda: True)


def test_unknown_method_is_refused() -> None:
    with pytest.raises(EngineError, match="Unknown speaker method 'pyannote'"):
        diarize(np.zeros(16000, dtype=np.float32), [(0.0, 1.0)], method="pyannote")


# --- the scorer itself, on cases worked out by hand ---


@pytest.mark.parametrize(
    ("reference", "hypothesis", "collar", "expected"),
    [
        # The same turns under other names: no error.
        ([(0, 10, "A"), (10, 20, "B")], [(0, 10, "y"), (10, 20, "x")], 0.0, 0.0),
        # Half of A's 10 s given to a second speaker: 5 s confused.
        ([(0, 10, "A")], [(0, 5, "x"), (5, 10, "y")], 0.0, 0.5),
        # 2 s of 10 missed; 2 s of speech found in silence.
        ([(0, 10, "A")], [(0, 8, "x")], 0.0, 0.2),
        ([(0, 10, "A")], [(0, 12, "x")], 0.0, 0.2),
        # One speaker for both: B's 5 s of 15 confused.
        ([(0, 10, "A"), (10, 15, "B")], [(0, 15, "x")], 0.0, 5 / 15),
        # A change 0.2 s late: 0.2 s of 20 confused, none within the collar.
        ([(0, 10, "A"), (10, 20, "B")], [(0, 10.2, "x"), (10.2, 20, "y")], 0.0, 0.01),
        ([(0, 10, "A"), (10, 20, "B")], [(0, 10.2, "x"), (10.2, 20, "y")], 0.25, 0.0),
        # The collar takes 0.25 s around each start and end: 1.75 s missed of 19 scored.
        ([(0, 10, "A"), (10, 20, "B")], [(0, 10, "x"), (10, 18, "y")], 0.25, 1.75 / 19),
        # Three found for two: A's best match is x (6 s); y's 4 s are confused.
        ([(0, 10, "A"), (12, 20, "B")], [(0, 6, "x"), (6, 10, "y"), (12, 20, "z")], 0.0, 4 / 18),
    ],
)
def test_diarization_error_rate_on_hand_worked_cases(
    reference: list, hypothesis: list, collar: float, expected: float
) -> None:
    assert diarization_error_rate(reference, hypothesis, collar=collar) == pytest.approx(
        expected, abs=1e-3
    )


def test_campplus_runs_through_funasr(tmp_path: Path, recordings: dict) -> None:
    # Random weights: the speakers it finds mean nothing; the turns' shape does.
    model_dir = build_tiny_campplus(MODELS_DIR / TINY_CAMPPLUS)
    config = EngineConfig(
        model_sources={CAMPPLUS_PRESET: str(model_dir)}, cache_dir=tmp_path, device="cpu"
    )
    recording, spans = recordings["three"]
    spans = spans[:3]  # FunASR embeds one window per call: a few spans are enough here

    turns = diarize(recording.audio, spans, method="campplus", config=config, max_speakers=3)

    assert turns[0].speaker == "S1" and 1 <= len(speakers(turns)) <= 3
    assert [(t.start, t.end) for t in turns] == sorted((t.start, t.end) for t in turns)
    assert all(any(s <= t.start and t.end <= e for s, e in spans) for t in turns)


def test_campplus_from_a_missing_folder_is_unavailable(tmp_path: Path) -> None:
    config = EngineConfig(
        model_sources={CAMPPLUS_PRESET: str(tmp_path / "campplus")}, cache_dir=tmp_path
    )

    with pytest.raises(ModelUnavailableError, match="'campplus' cannot be loaded: the folder"):
        diarize(np.zeros(32000, dtype=np.float32), [(0.0, 2.0)], method="campplus", config=config)


def test_a_long_recordings_windows_are_clustered_from_a_sample() -> None:
    # 5000 windows (over an hour of speech) around three voices: more than are clustered at once.
    rng = np.random.default_rng(0)
    # Each voice strong in dimensions of its own (cosine distance about 0.65 between voices, as
    # between the readers of the clips).
    voices = np.full((3, 256), 0.2)
    for voice in range(3):
        voices[voice, voice * 80 : (voice + 1) * 80] += 1.0
    truth = rng.integers(0, 3, size=5000)
    embeddings = voices[truth] + rng.normal(scale=0.3, size=(5000, 256))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)

    labels = _cluster(embeddings, 1, 20)

    assert len(embeddings) > MAX_CLUSTERED
    assert len(set(labels)) == 3
    assert all(len(set(labels[truth == voice])) == 1 for voice in range(3))

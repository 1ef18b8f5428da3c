import re
from pathlib import Path

import numpy as np
import pytest
import zhconv

from gpu_engine.audio import SAMPLE_RATE, decode_audio
from gpu_engine.backends import backend_for
from gpu_engine.clips import ClipResult
from gpu_engine.funasr_backend import FunASRBackend, FunASRClip
from gpu_engine.pipeline import MIN_SEGMENT_S, _skipped_speech, transcribe_file
from gpu_engine.types import (
    EngineConfig,
    JobCancelled,
    JobOptions,
    ModelUnavailableError,
    TranscriptResult,
)
from gpu_engine.vad import detect_speech, plan_segments
from tests.audio_files import speech, write_audio
from tests.engine.conftest import TINY_PARAFORMER, ProgressLog, never
from tests.scoring import corpus_wer, references

HAN = re.compile(r"[\u4e00-\u9fff]")


def transcribe(
    name: str, config: EngineConfig, progress: ProgressLog | None = None, **options: str
) -> TranscriptResult:
    return transcribe_file(
        speech(name),
        JobOptions(**{"model": "whisper-base", **options}),
        config,
        on_progress=progress or ProgressLog(),
        should_cancel=never,
    )


def test_whisper_base_transcribes_english_accurately(engine_config: EngineConfig) -> None:
    english = [r for r in references() if r.file.startswith("en_librispeech")]

    pairs = [(r.text, transcribe(r.file, engine_config).text) for r in english]

    assert corpus_wer(pairs) <= 0.15


def test_whisper_result_is_timed_ordered_and_within_the_file(engine_config: EngineConfig) -> None:
    progress = ProgressLog()

    result = transcribe("en_librispeech_1995-1837-0001.wav", engine_config, progress)

    assert result.language == "en"
    assert result.duration_s == pytest.approx(8.73, abs=0.01)
    assert result.segments
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts)
    assert all(0 <= s.start <= s.end <= result.duration_s and s.text for s in result.segments)
    assert progress.stages == ["decoding", "segmenting", "transcribing", "finalizing"]
    percents = [percent for _, percent, _ in progress.reports]
    assert percents == sorted(percents)


def test_mandarin_comes_out_in_simplified_characters(engine_config: EngineConfig) -> None:
    result = transcribe("zh_aishell_BAC009S0724W0121.wav", engine_config)

    assert result.language == "zh"
    assert HAN.search(result.text)
    assert zhconv.convert(result.text, "zh-hans") == result.text
    assert "广州" in result.text


def test_mandarin_comes_out_in_traditional_characters_when_asked(
    engine_config: EngineConfig,
) -> None:
    result = transcribe("zh_aishell_BAC009S0724W0121.wav", engine_config, language="zh-TW")

    assert result.language == "zh-TW"
    assert zhconv.convert(result.text, "zh-hant") == result.text
    assert "廣州" in result.text


@pytest.fixture(scope="module")
def long_pauses() -> np.ndarray:
    return decode_audio(speech("long_pauses_70s.wav"), max_seconds=600)


def test_funasr_job_segments_follow_the_speech_detector(
    engine_config: EngineConfig, long_pauses: np.ndarray
) -> None:
    progress = ProgressLog()

    result = transcribe_file(
        speech("long_pauses_70s.wav"),
        JobOptions(model=TINY_PARAFORMER),
        engine_config,
        on_progress=progress,
        should_cancel=never,
    )

    planned = plan_segments(
        detect_speech(long_pauses),
        max_segment_s=engine_config.max_segment_s,
        min_segment_s=MIN_SEGMENT_S,
    )
    assert len(planned) == 12
    # The tiny model's text is noise, but it emits some for every clip this long.
    assert [(s.start, s.end) for s in result.segments] == [
        (pytest.approx(start, abs=0.001), pytest.approx(end, abs=0.001)) for start, end in planned
    ]
    assert all(s.text for s in result.segments)
    assert result.duration_s == pytest.approx(len(long_pauses) / SAMPLE_RATE)
    assert result.language == ""  # Paraformer does not say, and none was asked for
    transcribing = [message for stage, _, message in progress.reports if stage == "transcribing"]
    assert transcribing == [f"{done} of 12 parts" for done in range(13)]


def test_cancelled_job_stops_at_its_next_clip(engine_config: EngineConfig) -> None:
    progress = ProgressLog()

    def cancelled_after_two_clips() -> bool:
        return progress.reports[-1][2] == "2 of 12 parts"

    with pytest.raises(JobCancelled):
        transcribe_file(
            speech("long_pauses_70s.wav"),
            JobOptions(model=TINY_PARAFORMER),
            engine_config,
            on_progress=progress,
            should_cancel=cancelled_after_two_clips,
        )

    # The twelve clips may all finish in one batch; no result is reported after the cancel.
    assert progress.reports[-1][2] == "2 of 12 parts"


def test_funasr_batch_maps_results_back_to_their_clips(
    engine_config: EngineConfig, long_pauses: np.ndarray
) -> None:
    backend = backend_for(TINY_PARAFORMER, engine_config, ProgressLog())
    options = JobOptions(model=TINY_PARAFORMER)
    clips = [
        long_pauses[: 3 * SAMPLE_RATE],
        long_pauses[:800],  # 50 ms: decodes to nothing, and FunASR leaves it out of its results
        long_pauses[20 * SAMPLE_RATE : 30 * SAMPLE_RATE],
    ]

    results = backend.recognize_batch([backend.prepare(clip, options) for clip in clips])

    assert [r.pieces[0][:2] if r.pieces else None for r in results] == [
        (0.0, 3.0),
        None,
        (0.0, 10.0),
    ]
    alone = backend.recognize_batch([backend.prepare(clips[2], options)])
    assert alone[0].pieces[0][:2] == (0.0, 10.0)


def funasr_clip(requested: str, *, itn: bool = False) -> FunASRClip:
    return FunASRClip(audio=np.zeros(2 * SAMPLE_RATE), requested=requested, itn=itn, group=())


def test_funasr_text_loses_sensevoice_tags_and_follows_the_language() -> None:
    raw = "<|zh|><|HAPPY|><|Applause|><|woitn|>歡迎大家"

    assert FunASRBackend.clip_result(raw, funasr_clip("auto")) == ClipResult(
        language="zh", pieces=[(0.0, 2.0, "欢迎大家")]
    )
    assert FunASRBackend.clip_result(raw, funasr_clip("zh-TW")).pieces == [(0.0, 2.0, "歡迎大家")]
    assert FunASRBackend.clip_result("", funasr_clip("zh-TW")) == ClipResult(
        language="zh", pieces=[]
    )


def test_funasr_text_gets_digits_when_the_model_has_no_itn_of_its_own() -> None:
    spoken = "二零二五年十月五号花了三百八十块钱"

    written = FunASRBackend.clip_result(spoken, funasr_clip("zh", itn=True)).pieces[0][2]
    untouched = FunASRBackend.clip_result(spoken, funasr_clip("zh")).pieces[0][2]

    assert written == "2025年10月5日花了380块钱"
    assert untouched == spoken


def test_job_with_no_speech_has_no_segments(engine_config: EngineConfig, tmp_path: Path) -> None:
    silence = write_audio(
        tmp_path / "silence.flac",
        np.zeros(3 * SAMPLE_RATE, dtype=np.float32),
        rate=SAMPLE_RATE,
        container="flac",
        codec="flac",
    )

    result = transcribe_file(
        silence,
        JobOptions(model=TINY_PARAFORMER),
        engine_config,
        on_progress=ProgressLog(),
        should_cancel=never,
    )

    assert result.segments == []
    assert result.duration_s == pytest.approx(3.0)


def test_unknown_model_fails_the_job_before_decoding(engine_config: EngineConfig) -> None:
    progress = ProgressLog()

    with pytest.raises(ModelUnavailableError, match="Unknown model 'whisper-huge'"):
        transcribe_file(
            speech("long_pauses_70s.wav"),
            JobOptions(model="whisper-huge"),
            engine_config,
            on_progress=progress,
            should_cancel=never,
        )
    assert progress.reports == []


def test_speech_a_packed_clip_left_undecoded_is_retried_from_its_first_skipped_span() -> None:
    spans = [(10.0, 14.8), (19.6, 21.2), (22.2, 24.8), (37.9, 39.5)]
    clips = [(10.0, 24.8), (37.9, 39.5)]
    # Whisper closed the first window after its first sentence; the second clip is complete.
    results = [
        ClipResult(language="zh", pieces=[(0.0, 5.0, "欢迎大家来体验")]),
        ClipResult(language="zh", pieces=[(0.0, 1.6, "砸自己的脚")]),
    ]

    assert _skipped_speech(clips, results, spans) == [(19.6, 24.8)]


def test_speech_skipped_inside_a_packed_clip_is_retried_alone() -> None:
    spans = [(0.0, 3.0), (5.0, 7.0), (8.0, 9.5), (14.0, 17.0)]
    clips = [(0.0, 17.0)]
    results = [ClipResult(language="en", pieces=[(0.0, 3.2, "a"), (14.1, 17.0, "d")])]

    assert _skipped_speech(clips, results, spans) == [(5.0, 9.5)]


def test_a_clip_decoded_to_its_end_or_to_nothing_is_not_retried() -> None:
    spans = [(0.0, 4.0), (5.0, 9.0)]
    clips = [(0.0, 9.0)]
    # Timestamps drift a little: text ending under SKIP_TOLERANCE_S before a span still covers it.
    drifted = [ClipResult(language="en", pieces=[(0.0, 4.5, "a"), (4.5, 8.2, "b")])]
    silent = [ClipResult(language="en", pieces=[])]

    assert _skipped_speech(clips, drifted, spans) == []
    assert _skipped_speech(clips, silent, spans) == []

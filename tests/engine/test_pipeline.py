import dataclasses
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
from tests.engine.conftest import (
    MODELS_DIR,
    TINY_PARAFORMER,
    ProgressLog,
    never,
    transcribe_alone,
)
from tests.scoring import corpus_wer, references
from tests.segments import assert_segments_follow_the_plan
from tests.tiny_models import build_tiny_punctuation

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
    # Speakers were not asked for: none identified.
    assert {s.speaker for s in result.segments} == {""}


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
    segments = [(s.start, s.end) for s in result.segments]
    assert_segments_follow_the_plan(segments, planned)
    # Paraformer's token times: the text starts after the detector's early start.
    assert all(
        start > clip_start for (start, _), (clip_start, _) in zip(segments, planned, strict=True)
    )
    assert all(s.text for s in result.segments)
    assert result.duration_s == pytest.approx(len(long_pauses) / SAMPLE_RATE)
    assert result.language == ""  # Paraformer does not say, and none was asked for
    transcribing = [message for stage, _, message in progress.reports if stage == "transcribing"]
    assert transcribing == [f"{done} of 12 parts" for done in range(13)]


def test_punctuation_model_splits_clips_into_sentences_timed_by_tokens(
    engine_config: EngineConfig, long_pauses: np.ndarray
) -> None:
    punctuation_dir = build_tiny_punctuation(MODELS_DIR / "tiny-punctuation")
    config = dataclasses.replace(
        engine_config, punctuation_sources={TINY_PARAFORMER: str(punctuation_dir)}
    )

    result = transcribe_alone(
        speech("long_pauses_70s.wav"), JobOptions(model=TINY_PARAFORMER), config
    )

    planned = plan_segments(
        detect_speech(long_pauses), max_segment_s=config.max_segment_s, min_segment_s=MIN_SEGMENT_S
    )
    segments = [(s.start, s.end) for s in result.segments]
    assert_segments_follow_the_plan(segments, planned)
    assert len(segments) > len(planned)  # clips cut at the model's sentence ends
    assert segments == sorted(segments)
    assert all(start < end for start, end in segments)
    # Every segment but a clip's last closes its sentence; no "<unk>" mark is left.
    closed = [s.text for s in result.segments if s.text[-1] in "。？.?"]
    assert len(closed) >= len(segments) - len(planned)
    assert not any("<unk>" in s.text for s in result.segments)


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

    assert [bool(r.pieces) for r in results] == [True, False, True]
    for result, seconds in ((results[0], 3.0), (results[2], 10.0)):
        # Paraformer's last token may end a little past the clip; the pipeline clamps it.
        assert all(0.0 <= start <= end < seconds + 0.1 for start, end, _ in result.pieces)
    alone = backend.recognize_batch([backend.prepare(clips[2], options)])
    # Random weights: argmax may flip between batch shapes, so times within a tolerance.
    assert [p[:2] for p in alone[0].pieces] == [
        pytest.approx(p[:2], abs=0.25) for p in results[2].pieces
    ]


def funasr_clip(requested: str, *, itn: bool = False) -> FunASRClip:
    return FunASRClip(audio=np.zeros(2 * SAMPLE_RATE), requested=requested, itn=itn, group=())


def test_funasr_text_loses_sensevoice_tags_and_follows_the_language() -> None:
    raw = "<|zh|><|HAPPY|><|Applause|><|woitn|>歡迎大家"

    assert FunASRBackend.clip_result({"text": raw}, funasr_clip("auto")) == ClipResult(
        language="zh", pieces=[(0.0, 2.0, "欢迎大家")]
    )
    assert FunASRBackend.clip_result({"text": raw}, funasr_clip("zh-TW")).pieces == [
        (0.0, 2.0, "歡迎大家")
    ]
    assert FunASRBackend.clip_result({}, funasr_clip("zh-TW")) == ClipResult(
        language="zh", pieces=[]
    )


def test_funasr_text_gets_digits_when_the_model_has_no_itn_of_its_own() -> None:
    spoken = "二零二五年十月五号花了三百八十块钱"

    written = FunASRBackend.clip_result({"text": spoken}, funasr_clip("zh", itn=True))
    untouched = FunASRBackend.clip_result({"text": spoken}, funasr_clip("zh"))

    assert written.pieces[0][2] == "2025年10月5日花了380块钱"
    assert untouched.pieces[0][2] == spoken


def unit_times(count: int, first_ms: float = 300, step_ms: float = 200) -> list[list[float]]:
    return [[first_ms + i * step_ms, first_ms + i * step_ms + 150] for i in range(count)]


def test_funasr_sentences_are_timed_by_the_model_token_times() -> None:
    # Paraformer with a punctuation model: one time per character, marks in between.
    result = {"text": "二零二五年十月五号。花了三百八十块钱？", "timestamp": unit_times(17)}

    clip = FunASRBackend.clip_result(result, funasr_clip("zh", itn=True))

    assert clip.pieces == [
        (pytest.approx(0.3), pytest.approx(2.05), "2025年10月5日。"),
        (pytest.approx(2.1), pytest.approx(3.65), "花了380块钱？"),
    ]


def test_funasr_sentences_follow_sensevoice_pieces() -> None:
    # SenseVoice names the piece each time belongs to; its marks are pieces too.
    result = {
        "text": "<|zh|><|NEUTRAL|><|Speech|><|withitn|>欢迎大家。Welcome all!",
        "timestamp": unit_times(5),
        "words": ["▁欢迎", "大家", "。", "▁Welcome", "▁all!"],
    }

    clip = FunASRBackend.clip_result(result, funasr_clip("auto"))

    assert clip.language == "zh"
    assert clip.pieces == [
        (pytest.approx(0.3), pytest.approx(0.85), "欢迎大家。"),
        (pytest.approx(0.9), pytest.approx(1.25), "Welcome all!"),
    ]


def test_funasr_sentences_follow_fun_asr_nano_tokens() -> None:
    # Fun-ASR-Nano's CTC alignment names each token and times it in seconds.
    tokens = ["广州", "市", "，", "房地产", "。", "Wel", "come"]
    result = {
        "text": "广州市，房地产。Welcome",
        "timestamps": [
            {"token": token, "start_time": 0.3 + 0.2 * i, "end_time": 0.45 + 0.2 * i}
            for i, token in enumerate(tokens)
        ],
    }

    clip = FunASRBackend.clip_result(result, funasr_clip("zh"))

    assert clip.pieces == [
        (pytest.approx(0.3), pytest.approx(1.25), "广州市，房地产。"),
        (pytest.approx(1.3), pytest.approx(1.65), "Welcome"),
    ]


def test_funasr_text_spans_the_clip_when_times_do_not_match_it() -> None:
    result = {"text": "欢迎大家。你好", "timestamp": unit_times(3)}

    assert FunASRBackend.clip_result(result, funasr_clip("zh")).pieces == [
        (0.0, 2.0, "欢迎大家。你好")
    ]


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


def test_job_on_audio_shorter_than_a_detector_frame_ends_empty(
    engine_config: EngineConfig, tmp_path: Path
) -> None:
    blip = tmp_path / "blip.wav"
    blip.write_bytes(speech("en_librispeech_1995-1837-0001.wav").read_bytes()[:64])  # 0.6 ms

    result = transcribe_file(
        blip,
        JobOptions(model=TINY_PARAFORMER),
        engine_config,
        on_progress=ProgressLog(),
        should_cancel=never,
    )

    assert result.segments == []
    assert result.duration_s == pytest.approx(10 / SAMPLE_RATE)


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

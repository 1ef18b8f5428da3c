"""A tiny random SenseVoiceSmall through the real funasr.AutoModel, and through the engine."""

from pathlib import Path

import pytest
import torch

from gpu_engine.audio import decode_audio
from gpu_engine.pipeline import MIN_SEGMENT_S, transcribe_file
from gpu_engine.types import EngineConfig, EngineError, JobOptions
from gpu_engine.vad import detect_speech, plan_segments
from tests.audio_files import speech
from tests.engine.conftest import MODELS_DIR, ProgressLog, never
from tests.segments import assert_segments_follow_the_plan
from tests.tiny_models import SENSEVOICE_TAGS, SENSEVOICE_VOCAB_SIZE, build_tiny_sensevoice

TINY_SENSEVOICE = "tiny-sensevoice"


@pytest.fixture(scope="module")
def sensevoice_dir() -> Path:
    return build_tiny_sensevoice(MODELS_DIR / TINY_SENSEVOICE)


@pytest.fixture(scope="module")
def sensevoice(sensevoice_dir: Path):  # -> funasr.AutoModel
    from funasr import AutoModel

    return AutoModel(
        model=str(sensevoice_dir),
        disable_update=True,
        disable_pbar=True,
        device="cpu",
        ncpu=torch.get_num_threads(),
        log_level="WARNING",
    )


@pytest.fixture(scope="module")
def mandarin_clip():
    return decode_audio(speech("zh_funasr_asr_example.wav"), max_seconds=60)


def test_builds_are_reproducible_and_a_built_model_is_kept(tmp_path: Path) -> None:
    first = build_tiny_sensevoice(tmp_path / "first")
    second = build_tiny_sensevoice(tmp_path / "second")

    for name in ("config.yaml", "bpe.model", "am.mvn"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    weights = torch.load(first / "model.pt")
    again = torch.load(second / "model.pt")
    assert weights.keys() == again.keys()
    assert all(torch.equal(weights[name], again[name]) for name in weights)
    assert weights["ctc.ctc_lo.weight"].shape[0] == SENSEVOICE_VOCAB_SIZE

    built_at = (first / "model.pt").stat().st_mtime_ns
    assert build_tiny_sensevoice(first) == first
    assert (first / "model.pt").stat().st_mtime_ns == built_at


def test_folder_brings_its_vocabulary_with_the_rich_tags_and_its_cmvn(sensevoice) -> None:
    tokenizer = sensevoice.kwargs["tokenizer"]
    frontend = sensevoice.kwargs["frontend"]

    assert frontend.cmvn is not None and frontend.cmvn.shape == (2, 80 * frontend.lfr_m)
    assert tokenizer.get_vocab_size() == SENSEVOICE_VOCAB_SIZE
    for tag in SENSEVOICE_TAGS:
        # Encoded after the word-start piece "▁", as one piece that decodes back to the tag.
        assert tokenizer.text2tokens(tag)[-1] == tag
        assert tokenizer.decode(tokenizer.encode(tag)) == tag


@pytest.mark.parametrize("language", ["zh", "auto"])
@pytest.mark.parametrize("use_itn", [True, False])
def test_generate_runs_for_each_language_and_itn_setting(
    sensevoice, mandarin_clip, language: str, use_itn: bool
) -> None:
    results = sensevoice.generate(input=mandarin_clip, language=language, use_itn=use_itn)

    assert len(results) == 1
    assert set(results[0]) == {"key", "text"}
    assert results[0]["text"]


def test_language_and_itn_options_reach_the_model(sensevoice, mandarin_clip) -> None:
    # SenseVoice feeds both as query frames before the audio, so each setting changes the output.
    texts = {
        sensevoice.generate(input=mandarin_clip, language=language, use_itn=use_itn)[0]["text"]
        for language in ("zh", "auto")
        for use_itn in (True, False)
    }

    assert len(texts) == 4
    # The random model writes tags among its words, as the real one writes them before its text.
    assert any("<|" in text for text in texts)


@pytest.mark.parametrize("language", ["zh", "auto"])
def test_engine_transcribes_with_sensevoice_following_the_speech_detector(
    sensevoice_dir: Path, language: str
) -> None:
    path = speech("long_pauses_70s.wav")
    config = EngineConfig(
        model_sources={TINY_SENSEVOICE: str(sensevoice_dir)}, cache_dir=MODELS_DIR, device="cpu"
    )

    result = transcribe_file(
        path,
        JobOptions(model=TINY_SENSEVOICE, language=language),
        config,
        on_progress=ProgressLog(),
        should_cancel=never,
    )

    spans = detect_speech(decode_audio(path, max_seconds=3600))
    assert len(spans) == 12  # FSMN-VAD with max_end_silence_time=800 on this file
    expected = plan_segments(spans, max_segment_s=config.max_segment_s, min_segment_s=MIN_SEGMENT_S)
    assert_segments_follow_the_plan([(s.start, s.end) for s in result.segments], expected)
    assert all(s.text and "<|" not in s.text and "|>" not in s.text for s in result.segments)
    if language != "auto":
        assert result.language == language


def test_engine_refuses_a_language_sensevoice_has_no_token_for(sensevoice_dir: Path) -> None:
    config = EngineConfig(
        model_sources={TINY_SENSEVOICE: str(sensevoice_dir)}, cache_dir=MODELS_DIR, device="cpu"
    )

    with pytest.raises(EngineError, match="cannot transcribe de: choose one of zh, en, yue"):
        transcribe_file(
            speech("zh_funasr_asr_example.wav"),
            JobOptions(model=TINY_SENSEVOICE, language="de"),
            config,
            on_progress=ProgressLog(),
            should_cancel=never,
        )

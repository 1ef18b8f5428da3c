"""A tiny random Fun-ASR-Nano through the real funasr.AutoModel, run by the engine.

Fun-ASR-Nano is told the language, the hotwords and whether to normalise numbers in words, in its
language model's prompt. The prompts it builds are recorded (the real method still runs) to show
what a job's options turn into.
"""

from pathlib import Path

import pytest

from gpu_engine.audio import decode_audio
from gpu_engine.pipeline import MIN_SEGMENT_S, transcribe_file
from gpu_engine.types import EngineConfig, EngineError, JobOptions
from gpu_engine.vad import detect_speech, plan_segments
from tests.audio_files import speech
from tests.engine.conftest import MODELS_DIR, ProgressLog, never
from tests.segments import assert_segments_follow_the_plan
from tests.tiny_models import build_tiny_fun_asr_nano

# The preset name, so that the engine treats it as Fun-ASR-Nano for hotwords as well.
NANO = "fun-asr-nano"


@pytest.fixture(scope="module")
def nano_config() -> EngineConfig:
    model_dir = build_tiny_fun_asr_nano(MODELS_DIR / "tiny-fun-asr-nano")
    return EngineConfig(model_sources={NANO: str(model_dir)}, cache_dir=MODELS_DIR, device="cpu")


@pytest.fixture
def prompts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from funasr.models.fun_asr_nano.model import FunASRNano

    built: list[str] = []
    get_prompt = FunASRNano.get_prompt

    def recording(self, *args, **kwargs) -> str:
        prompt = get_prompt(self, *args, **kwargs)
        built.append(prompt)
        return prompt

    monkeypatch.setattr(FunASRNano, "get_prompt", recording)
    return built


def _transcribe(path: Path, options: JobOptions, config: EngineConfig):
    return transcribe_file(path, options, config, on_progress=ProgressLog(), should_cancel=never)


def test_nano_job_has_text_in_every_planned_clip_and_detects_the_language_by_default(
    nano_config: EngineConfig, prompts: list[str]
) -> None:
    path = speech("long_pauses_70s.wav")

    result = _transcribe(path, JobOptions(model=NANO), nano_config)

    spans = detect_speech(decode_audio(path, max_seconds=3600))
    expected = plan_segments(
        spans, max_segment_s=nano_config.max_segment_s, min_segment_s=MIN_SEGMENT_S
    )
    assert_segments_follow_the_plan([(s.start, s.end) for s in result.segments], expected)
    assert all(segment.text for segment in result.segments)
    # No language named ("auto" would be written into the prompt), numbers normalised, no
    # hotwords: the model's default prompt, once per clip.
    assert prompts and set(prompts) == {"语音转写："}


def test_nano_prompt_carries_the_job_language_hotwords_and_itn_choice(
    nano_config: EngineConfig, prompts: list[str]
) -> None:
    options = JobOptions(model=NANO, language="zh-TW", itn=False, hotwords=("滨海新区", "达摩院"))

    result = _transcribe(speech("zh_funasr_asr_example.wav"), options, nano_config)

    assert result.segments and result.language == "zh-TW"
    assert prompts
    for prompt in prompts:
        assert "热词列表：[滨海新区, 达摩院]" in prompt
        assert prompt.endswith("语音转写成中文，不进行文本规整：")


def test_nano_refuses_a_language_it_cannot_be_told(nano_config: EngineConfig) -> None:
    with pytest.raises(EngineError, match="cannot transcribe fr: choose one of zh, en, ja, ko"):
        _transcribe(
            speech("en_two_cities_44s.wav"), JobOptions(model=NANO, language="fr"), nano_config
        )

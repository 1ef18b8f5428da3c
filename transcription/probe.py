"""Upload-time checks of what a file really holds, read with PyAV (never the extension)."""

import logging
from dataclasses import dataclass
from pathlib import Path

import av

logger = logging.getLogger(__name__)

# How much audio must decode at upload time; the worker decodes the rest.
PROBE_DECODE_SECONDS = 3.0
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 384_000
MAX_CHANNELS = 64


class RejectedUpload(Exception):
    """The file cannot be transcribed; the message names the reason in plain words."""


@dataclass(frozen=True)
class AudioInfo:
    container: str
    codec: str
    sample_rate: int
    channels: int
    duration_s: float | None


def probe_audio(path: Path, *, max_seconds: float) -> AudioInfo:
    if path.stat().st_size == 0:
        raise RejectedUpload("the file is empty")
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            return _probe_container(container, max_seconds=max_seconds)
    except RejectedUpload:
        raise
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as error:
        logger.info("Upload %s is not readable media: %s", path.name, error)
        raise RejectedUpload(
            "not a readable audio or video file (unknown format or damaged)"
        ) from error


def _probe_container(container: "av.container.InputContainer", *, max_seconds: float) -> AudioInfo:
    if not container.streams.audio:
        raise RejectedUpload("the file has no audio stream")
    stream = container.streams.audio[0]
    rate, channels = stream.codec_context.sample_rate, stream.codec_context.channels
    if not MIN_SAMPLE_RATE <= (rate or 0) <= MAX_SAMPLE_RATE:
        raise RejectedUpload(f"unsupported sample rate: {rate} Hz")
    if not 1 <= (channels or 0) <= MAX_CHANNELS:
        raise RejectedUpload(f"unsupported channel count: {channels}")
    duration_s = _header_duration(container, stream)
    if duration_s is not None and duration_s > max_seconds:
        hours = max_seconds / 3600
        raise RejectedUpload(f"the audio is longer than the {hours:g}-hour limit")
    if _decoded_seconds(container, stream) <= 0:
        raise RejectedUpload("the audio cannot be decoded (zero-length or corrupt)")
    return AudioInfo(
        container=container.format.name[:64],
        codec=stream.codec_context.name[:64],
        sample_rate=rate,
        channels=channels,
        duration_s=duration_s,
    )


def _header_duration(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _decoded_seconds(container, stream) -> float:
    decoded = 0.0
    try:
        for frame in container.decode(stream):
            decoded += frame.samples / (frame.sample_rate or 1)
            if decoded >= PROBE_DECODE_SECONDS:
                break
    except (av.FFmpegError, ValueError) as error:
        logger.info("Decoding stopped after %.2f s: %s", decoded, error)
    return decoded

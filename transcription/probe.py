"""Upload-time checks of what a file really holds, read with PyAV (never the extension).

PyAV reads the file in a child process with a memory cap and a time limit (gpu_engine.child): a
lying header can make FFmpeg allocate gigabytes, and then only the child dies and the upload is
rejected with a reason. The child demuxes the whole audio stream without decoding most of it, so
the length accepted is the real one, whatever the header claims or omits.
"""

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import av

from gpu_engine.child import ChildFailed, run_in_child
from gpu_engine.packets import SAMPLE_RATE, decoded_frames, mono_resampler, open_nameless

logger = logging.getLogger(__name__)

# How much audio must decode at upload time; the rest is only demuxed (its packets counted).
PROBE_DECODE_SECONDS = 3.0
# Shorter audio holds nothing to transcribe (the speech detector's frame alone is 25 ms).
MIN_AUDIO_SECONDS = 0.1
MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 384_000
MAX_CHANNELS = 64
# Probing takes 0.1 s for a short file (the child starts and imports PyAV in 0.07 s) and 0.4-0.7 s
# for 2 h of WAV, FLAC or MP3: demuxing reads hundreds of MB a second.
PROBE_TIMEOUT_S = 60.0
# Probes a web process runs at once; the others wait their turn. Each child may hold up to its
# memory cap, and dozens of uploads finishing together started a child each (50 users: 18
# children, the web's memory 256 MB -> 969 MB): the process's memory stays bounded this way, and
# two keep both cores of a small host busy.
_probing = threading.BoundedSemaphore(2)

UNREADABLE = "not a readable audio or video file (unknown format or damaged)"


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
    """What `path` holds; RejectedUpload says in plain words why it cannot be transcribed."""
    if path.stat().st_size == 0:
        raise RejectedUpload("the file is empty")
    try:
        with _probing:
            return run_in_child(
                _inspect_or_reject, path.resolve(), max_seconds, timeout_s=PROBE_TIMEOUT_S
            )
    except ChildFailed as failure:
        logger.warning("Probing %s failed: %s", path.name, failure)
        raise RejectedUpload(
            f"reading the file failed: {failure} (the file is damaged or unusual)"
        ) from failure


def _inspect_or_reject(path: Path, max_seconds: float) -> AudioInfo:
    """In the child: whatever PyAV raises on a damaged file is a reason to reject it."""
    try:
        return inspect_audio(path, max_seconds)
    except (RejectedUpload, MemoryError):  # PyAV's MemoryError is one too: the child says so
        raise
    except Exception as error:
        logger.info("Upload %s is not readable media: %r", path.name, error)
        raise RejectedUpload(UNREADABLE) from None


def inspect_audio(path: Path, max_seconds: float) -> AudioInfo:
    """What `path` holds, read in this process, without a memory cap (see probe_audio)."""
    with open_nameless(path) as file, av.open(file, metadata_errors="ignore") as container:
        if not container.streams.audio:
            raise RejectedUpload("the file has no audio stream")
        stream = container.streams.audio[0]
        context = stream.codec_context
        if context is None:
            raise RejectedUpload("the audio is in an unknown or unsupported encoding")
        rate, channels = context.sample_rate, context.channels
        if not MIN_SAMPLE_RATE <= (rate or 0) <= MAX_SAMPLE_RATE:
            raise RejectedUpload(f"unsupported sample rate: {rate} Hz")
        if not 1 <= (channels or 0) <= MAX_CHANNELS:
            raise RejectedUpload(f"unsupported channel count: {channels}")
        context.thread_count = 1
        decoded, length = _measure(container, stream, max_seconds=max_seconds)
        if decoded <= 0:
            raise RejectedUpload("the audio cannot be decoded (zero-length or corrupt)")
        if length < MIN_AUDIO_SECONDS:
            raise RejectedUpload(
                f"the audio is too short to transcribe ({length:.3f} s; "
                f"at least {MIN_AUDIO_SECONDS:g} s is needed)"
            )
        return AudioInfo(
            container=container.format.name[:64],
            codec=context.name[:64],
            sample_rate=rate,
            channels=channels,
            duration_s=round(length, 3),
        )


def _measure(container, stream, *, max_seconds: float) -> tuple[float, float]:
    """(seconds decoded, seconds in the stream): the first PROBE_DECODE_SECONDS are decoded and
    resampled as the worker does it, the rest only demuxed, each packet counted by its duration
    (decoded when it has none). Stops with a rejection once the stream passes `max_seconds`; a
    file damaged part-way counts up to the damage, as the worker's decoder will."""
    resampler = mono_resampler()
    decoded = length = 0.0
    try:
        for packet in container.demux(stream):
            seconds = float(packet.duration * packet.time_base) if packet.duration else None
            if seconds is None or decoded < PROBE_DECODE_SECONDS:
                frames = decoded_frames(packet)
                decoded += _resampled_seconds(resampler, frames)
                if seconds is None:
                    seconds = sum(f.samples / f.sample_rate for f in frames if f.sample_rate)
            length += seconds
            if length > max_seconds:
                raise RejectedUpload(
                    f"the audio is longer than the {max_seconds / 3600:g}-hour limit"
                )
    except MemoryError:
        raise  # a packet larger than the memory allowed: the worker must not try it either
    except av.FFmpegError as error:
        logger.info("Reading stopped after %.2f s: %s", length, error)
    return decoded + _resampled_seconds(resampler, [None]), length


def _resampled_seconds(resampler, frames: list) -> float:
    return sum(out.samples for frame in frames for out in resampler.resample(frame)) / SAMPLE_RATE

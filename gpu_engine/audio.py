"""Decoding uploads to 16 kHz mono samples, and a browser-playable copy when the original is not.

Everything goes through PyAV (FFmpeg), packet by packet, so a long file is never read whole, and
in a child process with a memory cap (gpu_engine.child), so a header that makes FFmpeg allocate
gigabytes costs only the child.
"""

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import numpy as np

from gpu_engine.child import ChildFailed, run_in_child
from gpu_engine.files import replacing
from gpu_engine.packets import SAMPLE_RATE, decoded_frames, mono_resampler, open_nameless
from gpu_engine.types import AudioDecodeError, AudioTooLongError

logger = logging.getLogger(__name__)

# Container family (FFmpeg's demuxer name) -> codecs (FFmpeg's format names, not decoder names)
# that every current browser's <audio> plays. The matroska demuxer also reads WebM, the mov one
# MP4/M4A.
_PLAYABLE = {
    "wav": {"pcm_u8", "pcm_s16le", "pcm_s24le", "pcm_f32le"},
    "mp3": {"mp3"},
    "flac": {"flac"},
    "ogg": {"vorbis", "opus"},
    "matroska,webm": {"vorbis", "opus"},
    "mov,mp4,m4a,3gp,3g2,mj2": {"aac", "mp3"},
    "aac": {"aac"},
}

# The playback copy: AAC in an M4A container (FFmpeg's "ipod" muxer), which every browser plays,
# Safari included; "faststart" puts the index first so the player can seek before the end arrives.
PLAYBACK_FORMAT = "ipod"
_PLAYBACK_CODEC = "aac"
_PLAYBACK_BIT_RATE = 64000
_PLAYBACK_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)

# Decoding runs at 100-500x real time on one core; past this the child is stopped.
_CHILD_BASE_TIMEOUT_S = 60.0
_CHILD_TIMEOUT_PER_AUDIO_S = 0.1
# Transcoding to AAC runs at over 50x real time: an hour covers the longest audio accepted.
_PLAYBACK_TIMEOUT_S = 3600.0


def decode_audio(path: Path | str, *, max_seconds: float) -> np.ndarray:
    """The first audio stream of `path` as float32 samples, 16 kHz, mono (channels mixed down).

    Raises AudioDecodeError when the file holds no audio that decodes (or its decoding needed
    more memory or time than allowed), and AudioTooLongError as soon as the decoded audio passes
    `max_seconds`. Packets that do not decode are skipped; a container damaged part-way is
    decoded up to the damage, with a warning.

    The child streams the samples to a temporary file (TMPDIR; 230 MB an hour) as they are
    decoded, and they are read back here once, into an array of exactly their size: this
    process holds 4 bytes a sample, never a list of chunks and their concatenation, whatever
    length the header claims (2 h of FLAC: 440 MB here, was 925 MB; the child peaks at 70 MB).
    """
    with tempfile.TemporaryDirectory(prefix="voxa-decode-") as folder:
        samples = Path(folder) / "samples.f32"
        try:
            run_in_child(
                _decode_to_file,
                Path(path).resolve(),
                samples,
                max_seconds,
                timeout_s=_CHILD_BASE_TIMEOUT_S + _CHILD_TIMEOUT_PER_AUDIO_S * max_seconds,
            )
        except ChildFailed as failure:
            raise AudioDecodeError(f"The audio could not be decoded: {failure}.") from failure
        return np.fromfile(samples, dtype=np.float32)


def _decode_to_file(path: Path, samples: Path, max_seconds: float) -> None:
    """In the child: the decoded samples appended to `samples` (raw float32) as they come."""
    max_samples = int(max_seconds * SAMPLE_RATE)
    decoded = 0
    with samples.open("wb") as out:
        for chunk in _decoded_chunks(path):
            decoded += len(chunk)
            if decoded > max_samples:
                raise AudioTooLongError(
                    f"The audio is longer than the {_describe(max_seconds)} limit."
                )
            out.write(chunk.tobytes())
    if decoded == 0:
        raise AudioDecodeError("No audio could be decoded from this file.")


def _decoded_chunks(path: Path | str) -> Iterator[np.ndarray]:
    resampler = mono_resampler()
    with _open_audio(path) as container:
        stream = container.streams.audio[0]
        try:
            for packet in container.demux(stream):
                for frame in decoded_frames(packet):
                    yield from _samples(resampler.resample(frame))
        except MemoryError:
            raise  # not damage: the child's memory cap, which the caller reports as such
        except av.FFmpegError as error:
            logger.warning("%s is damaged part-way (%s); using the audio before it", path, error)
        yield from _samples(resampler.resample(None))


@contextmanager
def _open_audio(path: Path | str) -> Iterator["av.container.InputContainer"]:
    with open_nameless(path) as file:
        try:
            container = av.open(file, metadata_errors="ignore")
        except (av.FFmpegError, OSError) as error:  # an empty file raises a bare EINVAL
            raise AudioDecodeError(
                f"This file could not be read as audio ({error.strerror or error})."
            ) from error
        with container:
            if not container.streams.audio:
                raise AudioDecodeError("The file contains no audio track.")
            yield container


def _samples(frames: list["av.AudioFrame"]) -> Iterator[np.ndarray]:
    for frame in frames:
        yield frame.to_ndarray()[0]


def _describe(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g}-hour"
    return f"{seconds:g}-second"


def make_playback_copy(src: Path, dst: Path) -> bool:
    """Write a browser-playable copy of `src` to `dst` unless browsers play `src` as it is.

    Returns True when a copy was written, False when the original is fine. The copy is
    PLAYBACK_FORMAT (M4A with AAC, mono); it appears at `dst` only once complete. Runs in a
    child process with a memory cap; raises ChildFailed when that was not enough.
    """
    return run_in_child(
        _make_playback_copy,
        Path(src).resolve(),
        Path(dst).resolve(),
        timeout_s=_PLAYBACK_TIMEOUT_S,
    )


def _make_playback_copy(src: Path, dst: Path) -> bool:
    with _open_audio(src) as container:
        stream = container.streams.audio[0]
        if stream.codec_context.codec.canonical_name in _PLAYABLE.get(container.format.name, ()):
            return False
        with replacing(dst) as partial:
            _transcode(container, stream, partial)
    return True


def _transcode(
    container: "av.container.InputContainer", stream: "av.AudioStream", dst: Path
) -> None:
    rate = stream.rate if stream.rate in _PLAYBACK_RATES else 48000
    with av.open(str(dst), "w", format=PLAYBACK_FORMAT, options={"movflags": "faststart"}) as out:
        out_stream = out.add_stream(_PLAYBACK_CODEC, rate=rate, layout="mono")
        out_stream.bit_rate = _PLAYBACK_BIT_RATE
        # AAC takes whole frames of frame_size samples (known once the encoder is open); the
        # resampler cuts them to that size.
        out_stream.codec_context.open()
        resampler = av.AudioResampler(
            format=out_stream.codec_context.format,
            layout="mono",
            rate=rate,
            frame_size=out_stream.codec_context.frame_size,
        )
        for frame in container.decode(stream):
            for resampled in resampler.resample(frame):
                out.mux(out_stream.encode(resampled))
        for resampled in resampler.resample(None):
            out.mux(out_stream.encode(resampled))
        out.mux(out_stream.encode(None))

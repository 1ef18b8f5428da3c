"""Decoding uploads to 16 kHz mono samples, and a browser-playable copy when the original is not.

Everything goes through PyAV (FFmpeg), packet by packet, so a long file is never read whole.
"""

import logging
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from gpu_engine.files import replacing
from gpu_engine.types import AudioDecodeError, AudioTooLongError

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000

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


def decode_audio(path: Path | str, *, max_seconds: float) -> np.ndarray:
    """The first audio stream of `path` as float32 samples, 16 kHz, mono (channels mixed down).

    Raises AudioDecodeError when the file holds no audio that decodes, and AudioTooLongError as
    soon as the decoded audio passes `max_seconds`. A file damaged part-way is decoded up to the
    damage, with a warning.
    """
    max_samples = int(max_seconds * SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    decoded = 0
    for chunk in _decoded_chunks(path):
        chunks.append(chunk)
        decoded += len(chunk)
        if decoded > max_samples:
            raise AudioTooLongError(f"The audio is longer than the {_describe(max_seconds)} limit.")
    if decoded == 0:
        raise AudioDecodeError("No audio could be decoded from this file.")
    return np.concatenate(chunks)


def _decoded_chunks(path: Path | str) -> Iterator[np.ndarray]:
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    with _open_audio(path) as container:
        stream = container.streams.audio[0]
        decoded_any = False
        try:
            for packet in container.demux(stream):
                for frame in packet.decode():
                    decoded_any = True
                    yield from _samples(resampler.resample(frame))
        except av.FFmpegError as error:
            if not decoded_any:
                raise AudioDecodeError(f"The audio could not be decoded ({error}).") from error
            logger.warning("%s is damaged part-way; using the audio before the damage", path)
        yield from _samples(resampler.resample(None))


def _open_audio(path: Path | str) -> "av.container.InputContainer":
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as error:
        raise AudioDecodeError(
            f"This file could not be read as audio ({error.strerror or error})."
        ) from error
    if not container.streams.audio:
        container.close()
        raise AudioDecodeError("The file contains no audio track.")
    return container


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
    PLAYBACK_FORMAT (M4A with AAC, mono); it appears at `dst` only once complete.
    """
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

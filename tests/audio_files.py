"""Test audio made on the fly from the recorded speech in tests/data/speech, in the containers users
upload."""

import os
import struct
from pathlib import Path

import av
import numpy as np

from gpu_engine.audio import decode_audio

# The recordings kept in the repository (their sources and licences: tests/data/speech/README.md);
# VOXA_SPEECH_DIR points elsewhere.
SPEECH_DIR = Path(
    os.environ.get("VOXA_SPEECH_DIR") or Path(__file__).resolve().parent / "data" / "speech"
)

# extension -> (container format, codec, sample rate)
FORMATS = {
    "wav": ("wav", "pcm_s16le", 16000),
    "mp3": ("mp3", "libmp3lame", 16000),
    "m4a": ("ipod", "aac", 16000),
    "mp4": ("mp4", "aac", 16000),
    "flac": ("flac", "flac", 16000),
    "ogg": ("ogg", "libopus", 48000),
    "webm": ("webm", "libopus", 48000),
}


def speech(name: str) -> Path:
    return SPEECH_DIR / name


def convert(src: Path, dst: Path, *, repeat: int = 1, channels: int = 1) -> Path:
    """Re-encode src in the container dst's suffix names, optionally repeated or as stereo."""
    container, codec, rate = FORMATS[dst.suffix.lstrip(".")]
    samples = np.tile(decode_audio(src, max_seconds=3600), repeat)
    return write_audio(dst, samples, rate=rate, container=container, codec=codec, channels=channels)


def write_audio(
    path: Path, samples: np.ndarray, *, rate: int, container: str, codec: str, channels: int = 1
) -> Path:
    """Encode 16 kHz mono float samples as `codec` in `container`, resampled to `rate` and copied
    to every channel."""
    layout = "stereo" if channels == 2 else "mono"
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        stream.codec_context.open()
        resampler = av.AudioResampler(
            format=stream.codec_context.format,
            layout=layout,
            rate=rate,
            frame_size=stream.codec_context.frame_size or None,
        )
        source = av.AudioFrame.from_ndarray(samples[np.newaxis, :], format="flt", layout="mono")
        source.sample_rate = 16000
        source.pts = 0
        for frame in [*resampler.resample(source), *resampler.resample(None)]:
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def long_wav(path: Path, size_bytes: int, clip: Path) -> Path:
    """A WAV of `size_bytes` in all (48 kHz stereo 16-bit), its samples `clip`'s PCM repeated,
    written a block at a time: big uploads without holding them in memory."""
    data_bytes = size_bytes - 44
    header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 2, 48000, 48000 * 4, 4, 16)
    header += b"data" + struct.pack("<I", data_bytes)
    pcm = clip.read_bytes()[44:]
    pcm = pcm[: len(pcm) // 4 * 4]
    block_bytes = 16 * 1024 * 1024
    block = (pcm * (block_bytes // len(pcm) + 1))[:block_bytes]
    with path.open("wb") as out:
        out.write(header)
        left = data_bytes
        while left:
            out.write(block[: min(left, len(block))])
            left -= min(left, len(block))
    return path

"""Test audio made on the fly from the shared recordings, in the containers users upload."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SPEECH_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "speech"

# extension -> (container format, codec, sample rate)
FORMATS = {
    "wav": ("wav", "pcm_s16le", 16000),
    "mp3": ("mp3", "libmp3lame", 16000),
    "m4a": ("mp4", "aac", 16000),
    "mp4": ("mp4", "aac", 16000),
    "flac": ("flac", "flac", 16000),
    "ogg": ("ogg", "libopus", 48000),
    "webm": ("webm", "libopus", 48000),
}


def speech(name: str) -> Path:
    return SPEECH_DIR / name


def read_mono(path: Path, rate: int = 16000) -> np.ndarray:
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        chunks = [
            out.to_ndarray().reshape(-1)
            for frame in container.decode(audio=0)
            for out in resampler.resample(frame)
        ]
    return np.concatenate(chunks)


def encode(samples: np.ndarray, dst: Path, *, rate: int = 16000, layout: str = "mono") -> Path:
    """Write int16 samples (shape (n,) mono or (2, n) stereo) in the container dst's suffix names."""
    container_format, codec, codec_rate = FORMATS[dst.suffix.lstrip(".")]
    with av.open(str(dst), "w", format=container_format) as out:
        stream = out.add_stream(codec, rate=codec_rate, layout=layout)
        resampler = av.AudioResampler(
            format=stream.codec_context.format, layout=layout, rate=codec_rate
        )
        planar = samples.reshape(1, -1) if layout == "mono" else samples.T.reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planar), format="s16", layout=layout)
        frame.sample_rate, frame.time_base, frame.pts = rate, Fraction(1, rate), 0
        for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
            out.mux(stream.encode(resampled))
        out.mux(stream.encode(None))
    return dst


def convert(src: Path, dst: Path) -> Path:
    return encode(read_mono(src), dst)

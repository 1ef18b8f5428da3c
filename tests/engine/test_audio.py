import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from gpu_engine.audio import SAMPLE_RATE, decode_audio, make_playback_copy
from gpu_engine.types import AudioDecodeError, AudioTooLongError
from tests.audio_files import convert, speech, write_audio

CLIP = "en_librispeech_1995-1837-0001.wav"


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return decode_audio(speech(CLIP), max_seconds=60)


# name -> (container, codec, sample rate, channels)
FORMATS = {
    "clip.mp3": ("mp3", "libmp3lame", 16000, 1),
    "clip.m4a": ("ipod", "aac", 16000, 1),
    "clip.mp4": ("mp4", "aac", 44100, 2),
    "clip.flac": ("flac", "flac", 16000, 1),
    "clip.ogg": ("ogg", "libopus", 48000, 1),
    "clip.webm": ("webm", "libopus", 48000, 2),
    "clip.mkv": ("matroska", "mp2", 16000, 1),
    "clip.amr": ("amr", "libopencore_amrnb", 8000, 1),
    "stereo.wav": ("wav", "pcm_s16le", 16000, 2),
}

# Browsers play these as they are; the others get a playback copy.
BROWSER_PLAYABLE = {"clip.mp3", "clip.m4a", "clip.mp4", "clip.flac", "clip.ogg", "clip.webm"}


def make(tmp_path: Path, name: str, samples: np.ndarray) -> Path:
    container, codec, rate, channels = FORMATS[name]
    return write_audio(
        tmp_path / name, samples, rate=rate, container=container, codec=codec, channels=channels
    )


def test_wav_decodes_to_16k_mono_float(clip: np.ndarray) -> None:
    assert clip.dtype == np.float32
    assert clip.ndim == 1
    assert len(clip) / SAMPLE_RATE == pytest.approx(8.73, abs=0.01)
    assert 0.01 < np.abs(clip).max() <= 1.0


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_each_format_decodes_to_the_same_audio(tmp_path: Path, clip: np.ndarray, name: str) -> None:
    decoded = decode_audio(make(tmp_path, name, clip), max_seconds=60)

    assert decoded.dtype == np.float32 and decoded.ndim == 1
    # Codecs pad to whole frames (AAC's are 1024 samples); nothing more may be lost or added.
    assert abs(len(decoded) - len(clip)) <= 1024
    # AMR is narrow-band (8 kHz), so only its loudness envelope is compared with the original.
    compared = min(len(decoded), len(clip))
    if name == "clip.amr":
        assert np.abs(decoded).mean() == pytest.approx(np.abs(clip).mean(), rel=0.5)
    else:
        assert np.corrcoef(decoded[:compared], clip[:compared])[0, 1] > 0.95


def test_stereo_is_mixed_down_to_mono(tmp_path: Path, clip: np.ndarray) -> None:
    path = tmp_path / "left-only.wav"
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=SAMPLE_RATE, layout="stereo")
        left_only = np.stack([clip, np.zeros_like(clip)])
        frame = av.AudioFrame.from_ndarray(left_only, format="fltp", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))

    decoded = decode_audio(path, max_seconds=60)

    assert len(decoded) == len(clip)
    # Both channels count: the silent right one halves (or so) the left one's level.
    assert np.corrcoef(decoded, clip)[0, 1] > 0.99
    assert 0.3 < np.abs(decoded).max() / np.abs(clip).max() < 0.8


def test_text_file_named_wav_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("These are meeting notes, not a recording.\n" * 20)

    with pytest.raises(AudioDecodeError, match="could not be read as audio"):
        decode_audio(path, max_seconds=60)


def test_empty_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp3"
    path.touch()

    with pytest.raises(AudioDecodeError):
        decode_audio(path, max_seconds=60)


def test_file_without_audio_track_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "silent-film.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))

    with pytest.raises(AudioDecodeError, match="no audio track"):
        decode_audio(path, max_seconds=60)


def test_mp3_cut_inside_its_first_frames_is_rejected(tmp_path: Path, clip: np.ndarray) -> None:
    whole = make(tmp_path, "clip.mp3", clip).read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(whole[:300])

    with pytest.raises(AudioDecodeError):
        decode_audio(cut, max_seconds=60)


def test_file_cut_part_way_decodes_up_to_the_cut(tmp_path: Path, clip: np.ndarray) -> None:
    whole = make(tmp_path, "clip.mp3", clip).read_bytes()
    cut = tmp_path / "half.mp3"
    cut.write_bytes(whole[: len(whole) // 2])

    decoded = decode_audio(cut, max_seconds=60)

    assert len(decoded) == pytest.approx(len(clip) / 2, rel=0.1)
    assert np.corrcoef(decoded, clip[: len(decoded)])[0, 1] > 0.95


def test_audio_past_the_limit_is_rejected(clip: np.ndarray) -> None:
    with pytest.raises(AudioTooLongError, match="longer than the 2-second limit"):
        decode_audio(speech(CLIP), max_seconds=2)


# Run in a fresh process: its resident memory's high-water mark (VmHWM, which unlike ru_maxrss
# does not carry the parent's peak across exec) before and after decoding, in MB, and the size
# of the samples it got.
PEAK_OF_DECODING = """
import sys
from gpu_engine.audio import decode_audio
def peak_mb():
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(status["VmHWM"].split()[0]) / 1024
before = peak_mb()
audio = decode_audio(sys.argv[1], max_seconds=3600)
print(peak_mb() - before, audio.nbytes / 2**20)
"""


def test_decoding_a_long_file_holds_its_samples_once(tmp_path: Path) -> None:
    long = convert(speech(CLIP), tmp_path / "long.flac", repeat=206)  # 30 min, 110 MB of samples

    measured = subprocess.run(
        [sys.executable, "-c", PEAK_OF_DECODING, str(long)],
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )

    grown_mb, samples_mb = map(float, measured.stdout.split())
    assert samples_mb == pytest.approx(30 * 60 * SAMPLE_RATE * 4 / 2**20, rel=0.01)
    # A list of decoded chunks and their concatenation took twice the samples.
    assert grown_mb < samples_mb * 1.1 + 10


def test_audio_within_the_limit_is_accepted() -> None:
    assert len(decode_audio(speech(CLIP), max_seconds=9)) > 0


@pytest.mark.parametrize("name", sorted(BROWSER_PLAYABLE))
def test_browser_playable_original_needs_no_copy(
    tmp_path: Path, clip: np.ndarray, name: str
) -> None:
    dst = tmp_path / "playback.audio"

    assert make_playback_copy(make(tmp_path, name, clip), dst) is False
    assert not dst.exists()


@pytest.mark.parametrize("name", sorted(set(FORMATS) - BROWSER_PLAYABLE - {"stereo.wav"}))
def test_other_codecs_get_an_m4a_playback_copy(tmp_path: Path, clip: np.ndarray, name: str) -> None:
    dst = tmp_path / "playback.audio"

    assert make_playback_copy(make(tmp_path, name, clip), dst) is True

    with av.open(str(dst)) as copy:
        assert copy.format.name == "mov,mp4,m4a,3gp,3g2,mj2"
        assert copy.streams.audio[0].codec_context.name == "aac"
    assert len(decode_audio(dst, max_seconds=60)) / SAMPLE_RATE == pytest.approx(8.73, abs=0.15)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers


def test_wav_with_a_browser_codec_needs_no_copy(tmp_path: Path) -> None:
    assert make_playback_copy(speech(CLIP), tmp_path / "playback.audio") is False


def test_wav_with_an_unplayable_codec_gets_a_copy(tmp_path: Path, clip: np.ndarray) -> None:
    path = write_audio(tmp_path / "mulaw.wav", clip, rate=8000, container="wav", codec="pcm_mulaw")

    assert make_playback_copy(path, tmp_path / "playback.audio") is True

"""Malformed audio built from real audio: WAV headers written field by field, FLAC headers with
their length erased, and seeded mutators for the upload fuzz test."""

import random
import struct
from collections.abc import Callable
from pathlib import Path

FMT_CHUNK = struct.Struct("<4sIHHIIHH")
CHUNK_HEADER = struct.Struct("<4sI")
# Where FLAC's STREAMINFO keeps the total sample count: the low 4 bits of byte 21, then 4 bytes
# ("fLaC", the block header, then 13 bytes into the block). 0 means "unknown".
FLAC_TOTAL_SAMPLES = 21


def wav(
    pcm: bytes,
    *,
    format_tag: int = 1,
    channels: int = 1,
    rate: int = 16000,
    bits: int = 16,
    data_size: int | None = None,
    chunks_before: bytes = b"",
    chunks_after: bytes = b"",
) -> bytes:
    """A RIFF WAV whose header says what the arguments say, whatever `pcm` really holds."""
    block = channels * bits // 8 & 0xFFFF
    byte_rate = rate * block & 0xFFFFFFFF  # absurd fields overflow as a real writer's would
    fmt = FMT_CHUNK.pack(b"fmt ", 16, format_tag, channels, rate, byte_rate, block, bits)
    data = CHUNK_HEADER.pack(b"data", len(pcm) if data_size is None else data_size) + pcm
    body = b"WAVE" + fmt + chunks_before + data + chunks_after
    return CHUNK_HEADER.pack(b"RIFF", len(body)) + body


def chunk(tag: bytes, payload: bytes, *, claimed_size: int | None = None) -> bytes:
    size = len(payload) if claimed_size is None else claimed_size
    return CHUNK_HEADER.pack(tag, size) + payload + b"\0" * (len(payload) % 2)


def list_info_chunk(claimed_size: int) -> bytes:
    """A LIST/INFO chunk whose one entry claims `claimed_size` bytes (FFmpeg allocates them)."""
    entry = CHUNK_HEADER.pack(b"INAM", claimed_size) + b"x" * 64
    return chunk(b"LIST", b"INFO" + entry, claimed_size=0xFFFFFFF0)


def pcm_of(wav_bytes: bytes) -> bytes:
    """The samples of a canonical 44-byte-header WAV (the shared clips are)."""
    return wav_bytes[44:]


def flac_without_length(flac_bytes: bytes) -> bytes:
    """The same FLAC with the total sample count of its STREAMINFO set to 0 (unknown)."""
    data = bytearray(flac_bytes)
    assert data[:4] == b"fLaC"
    data[FLAC_TOTAL_SAMPLES] &= 0xF0
    data[FLAC_TOTAL_SAMPLES + 1 : FLAC_TOTAL_SAMPLES + 5] = b"\0\0\0\0"
    return bytes(data)


# --- seeded mutators for the fuzz corpus: each takes real audio bytes and a Random -------------

ABSURD_INTEGERS = [0, 1, 2, 7, 255, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.choice([1, 4, 12, 44, 64, 200, rng.randrange(1, len(data))])]


def wrong_magic(data: bytes, rng: random.Random) -> bytes:
    magic = rng.choice([b"RIFF", b"fLaC", b"OggS", b"ID3\x03", b"\x1aE\xdf\xa3", b"MZ\x90\x00"])
    return magic + data[4:] if rng.random() < 0.5 else rng.randbytes(4) + data[4:]


def absurd_field(data: bytes, rng: random.Random) -> bytes:
    """A 16- or 32-bit field within the first 128 bytes (where headers live) set absurd."""
    out = bytearray(data)
    width = rng.choice([2, 4])
    offset = rng.randrange(0, min(128, len(out) - width))
    value = rng.choice(ABSURD_INTEGERS) & ((1 << (8 * width)) - 1)
    out[offset : offset + width] = value.to_bytes(width, "little" if rng.random() < 0.5 else "big")
    return bytes(out)


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice([1, 4, 32])):
        index = min(int(rng.expovariate(1 / 256)), len(out) - 1)
        out[index] = rng.randrange(256)
    return bytes(out)


def splice_garbage(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data))
    return data[:at] + rng.randbytes(rng.choice([16, 1024, 8192])) + data[at:]


def tiny(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(1, 96)]


MUTATORS: list[Callable[[bytes, random.Random], bytes]] = [
    truncate,
    wrong_magic,
    absurd_field,
    absurd_field,
    flip_bytes,
    splice_garbage,
    tiny,
]


def wav_header_cases(pcm: bytes, rng: random.Random) -> bytes:
    """A WAV with absurd header values: rates, channel counts, bit depths, formats, lengths and
    huge metadata chunks, alone or together."""
    fields = {
        "format_tag": rng.choice([1, 1, 3, 0, 2, 6, 7, 0x55, 0xFFFE, 0xFFFF]),
        "channels": rng.choice([1, 1, 2, 0, 3, 65, 255, 0xFFFF]),
        "rate": rng.choice([16000, 16000, 0, 1, 999, 8000, 384_001, 0x7FFFFFFF, 0xFFFFFFFF]),
        "bits": rng.choice([16, 16, 0, 1, 8, 12, 24, 32, 64, 1000]),
        "data_size": rng.choice([None, None, 0, 1, 0x7FFFFFFF, 0xFFFFFFFF]),
    }
    extras = rng.choice(
        [b"", b"", list_info_chunk(rng.choice([1 << 20, 1 << 30, 0x60000000, 0xFFFFFF00])),
         chunk(b"junk", b"\0" * rng.choice([0, 1, 4096, 1 << 20]))]
    )  # fmt: skip
    where = rng.choice(["chunks_before", "chunks_after"])
    return wav(pcm, **fields, **{where: extras})


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from gpu_engine import vad
from gpu_engine.audio import SAMPLE_RATE, decode_audio
from gpu_engine.vad import VAD_OPTIONS, detect_speech, detection_processes, plan_segments
from tests.audio_files import speech


def test_spans_within_the_limit_pass_through() -> None:
    spans = [(0.5, 3.0), (4.0, 9.5)]

    assert plan_segments(spans, max_segment_s=30) == spans


def test_spans_come_out_sorted_and_empty_ones_dropped() -> None:
    spans = [(10.0, 12.0), (3.0, 3.0), (0.0, 2.0), (5.0, 4.0)]

    assert plan_segments(spans, max_segment_s=30) == [(0.0, 2.0), (10.0, 12.0)]


def test_long_span_is_split_into_equal_parts_within_the_limit() -> None:
    parts = plan_segments([(10.0, 80.0)], max_segment_s=30)

    assert len(parts) == 3
    assert parts[0][0] == 10.0 and parts[-1][1] == 80.0
    assert all(end - start == pytest.approx(70 / 3) for start, end in parts)
    assert all(parts[i][1] == parts[i + 1][0] for i in range(2))


def test_span_exactly_at_the_limit_is_not_split() -> None:
    assert plan_segments([(0.0, 30.0)], max_segment_s=30) == [(0.0, 30.0)]


def test_short_span_joins_the_neighbour_across_the_shorter_gap() -> None:
    spans = [(0.0, 5.0), (5.5, 5.8), (9.0, 12.0)]

    assert plan_segments(spans, max_segment_s=30, min_segment_s=1.0) == [
        (0.0, 5.8),
        (9.0, 12.0),
    ]


def test_short_span_joins_the_other_neighbour_when_the_nearer_one_would_be_too_long() -> None:
    spans = [(0.0, 29.5), (29.6, 30.1), (31.0, 35.0)]

    assert plan_segments(spans, max_segment_s=30, min_segment_s=1.0) == [
        (0.0, 29.5),
        (29.6, 35.0),
    ]


def test_short_span_stays_alone_when_no_join_fits() -> None:
    spans = [(0.0, 29.5), (29.6, 30.1), (30.2, 60.0)]

    assert plan_segments(spans, max_segment_s=30, min_segment_s=1.0) == spans


def test_short_spans_keep_joining_until_long_enough() -> None:
    spans = [(0.0, 0.3), (0.4, 0.6), (0.7, 1.2), (5.0, 9.0)]

    assert plan_segments(spans, max_segment_s=30, min_segment_s=1.0) == [(0.0, 1.2), (5.0, 9.0)]


def test_lone_short_span_is_kept() -> None:
    assert plan_segments([(1.0, 1.2)], max_segment_s=30, min_segment_s=1.0) == [(1.0, 1.2)]


def test_packing_joins_consecutive_spans_up_to_the_limit() -> None:
    spans = [(0.0, 8.0), (9.0, 20.0), (21.0, 29.0), (30.0, 40.0), (41.0, 45.0)]

    assert plan_segments(spans, max_segment_s=30, merge_up_to_s=30) == [
        (0.0, 29.0),
        (30.0, 45.0),
    ]


def test_packing_never_exceeds_the_segment_limit() -> None:
    spans = [(0.0, 10.0), (11.0, 20.0), (21.0, 30.0)]

    assert plan_segments(spans, max_segment_s=20, merge_up_to_s=60) == [
        (0.0, 20.0),
        (21.0, 30.0),
    ]


def test_packing_keeps_split_parts_within_the_limit() -> None:
    clips = plan_segments([(0.0, 50.0), (51.0, 53.0)], max_segment_s=30, merge_up_to_s=30)

    assert clips == [(0.0, 25.0), (25.0, 53.0)]


def test_every_input_span_is_covered_by_the_plan() -> None:
    rng = np.random.default_rng(0)
    edges = np.sort(rng.uniform(0, 600, size=200))
    spans = [(float(a), float(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]

    for packing in (0.0, 30.0):
        clips = plan_segments(spans, max_segment_s=30, merge_up_to_s=packing, min_segment_s=1.0)
        assert all(end - start <= 30 + 1e-9 for start, end in clips)
        assert all(clips[i][1] <= clips[i + 1][0] for i in range(len(clips) - 1))
        for start, end in spans:
            assert any(s <= start and end <= e for s, e in clips) or end - start > 30


def test_no_spans_plan_no_clips() -> None:
    assert plan_segments([], max_segment_s=30, merge_up_to_s=30, min_segment_s=1.0) == []


def test_max_segment_must_be_positive() -> None:
    with pytest.raises(ValueError):
        plan_segments([(0.0, 1.0)], max_segment_s=0)


@pytest.fixture(scope="module")
def long_pauses() -> np.ndarray:
    return decode_audio(speech("long_pauses_70s.wav"), max_seconds=600)


def test_fsmn_vad_finds_one_span_per_spoken_stretch(long_pauses: np.ndarray) -> None:
    spans = detect_speech(long_pauses)

    # Measured with the engine's options (max_end_silence_time=800); FSMN's defaults give 7 spans,
    # the first a 60 s chunk.
    assert VAD_OPTIONS == {"max_end_silence_time": 800}
    assert len(spans) == 12
    assert spans[0] == pytest.approx((0.07, 2.34))
    assert spans[-1] == pytest.approx((59.82, 70.45))
    assert all(end - start < 20 for start, end in spans)
    assert all(spans[i][1] < spans[i + 1][0] for i in range(len(spans) - 1))
    assert spans[-1][1] <= len(long_pauses) / SAMPLE_RATE


def test_fsmn_vad_finds_nothing_in_silence() -> None:
    assert detect_speech(np.zeros(5 * SAMPLE_RATE, dtype=np.float32)) == []
    assert detect_speech(np.zeros(0, dtype=np.float32)) == []


def test_speech_is_found_window_by_window_and_joined_at_the_edges(
    long_pauses: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = detect_speech(long_pauses)
    monkeypatch.setattr(vad, "WINDOW_S", 20.0)  # edges at 20, 40 and 60 s (2 h: 10 min)

    windowed = detect_speech(long_pauses)

    assert all(windowed[i][1] < windowed[i + 1][0] for i in range(len(windowed) - 1))
    # The speech found in one pass is found in windows too, give or take the edges' 0.3 s.
    for start, end in whole:
        covered = sum(max(0.0, min(end, e) - max(start, s)) for s, e in windowed)
        assert covered >= end - start - 0.3
    assert abs(len(windowed) - len(whole)) <= 3


@pytest.mark.parametrize("samples", [1, 10, 399])
def test_audio_shorter_than_one_detector_frame_has_no_speech(samples: int) -> None:
    # FSMN-VAD divided by zero on less than its 25 ms frame (400 samples).
    assert detect_speech(np.full(samples, 0.01, dtype=np.float32)) == []


def test_jobs_detecting_speech_at_once_get_what_each_gets_alone() -> None:
    files = ["long_pauses_70s.wav", "en_two_cities_44s.wav", "zh_funasr_asr_example.wav"]
    audio = [decode_audio(speech(name), max_seconds=600) for name in files]
    alone = [detect_speech(samples) for samples in audio]

    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(detect_speech, audio))

    assert together == alone


@pytest.fixture
def detector_processes():
    """Shuts down the detector processes a test started (each holds funasr and torch)."""
    yield
    for processes, pool in list(vad._pools.items()):
        vad._drop(pool, processes)


def test_speech_found_in_detector_processes_is_what_a_job_thread_finds(detector_processes) -> None:
    files = ["long_pauses_70s.wav", "en_two_cities_44s.wav", "zh_funasr_asr_example.wav"]
    audio = [decode_audio(speech(name), max_seconds=600) for name in files]
    alone = [detect_speech(samples) for samples in audio]

    with ThreadPoolExecutor(3) as pool:
        in_processes = list(pool.map(lambda samples: detect_speech(samples, processes=2), audio))

    assert in_processes == alone
    assert len(in_processes[0]) == 12


def test_a_detector_process_killed_mid_job_is_replaced_and_leaves_nothing_waiting(
    long_pauses: np.ndarray, detector_processes
) -> None:
    expected = detect_speech(long_pauses, processes=1)
    pool = vad._pool(1)
    pool.submit(time.sleep, 3)  # the detector process is busy...
    with ThreadPoolExecutor(1) as job:
        found = job.submit(detect_speech, long_pauses, processes=1)  # ...while a job waits
        time.sleep(1)
        for pid in list(pool._processes):
            os.kill(pid, signal.SIGKILL)  # as the kernel kills a process out of memory

        assert found.result(timeout=60) == expected
    assert vad._pool(1) is not pool
    # Nothing of the broken pool is left waiting, so the worker can still exit.
    closing = threading.Thread(target=pool.shutdown, daemon=True)
    closing.start()
    closing.join(timeout=10)
    assert not closing.is_alive()


def test_detector_processes_leave_with_a_worker_killed_outright(tmp_path) -> None:
    # A worker process that starts its detector process, says its pid, and waits to be killed.
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time, numpy as np\n"
            "from gpu_engine import vad\n"
            "vad.detect_speech(np.zeros(16000, dtype=np.float32), processes=1)\n"
            "print('detector', *vad._pools[1]._processes, flush=True)\n"
            "time.sleep(600)\n",
        ],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    # funasr prints notices of its own on import.
    said = next(line for line in worker.stdout if line.startswith("detector "))
    detector = int(said.split()[1])
    assert _running(detector)

    worker.kill()
    worker.wait()

    deadline = time.monotonic() + 10 * vad.ORPHAN_CHECK_S
    while _running(detector) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(detector)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A process that has exited but is not yet reaped (a zombie) counts as gone.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_detector_processes_default_to_one_per_core_up_to_four() -> None:
    cores = len(os.sched_getaffinity(0))

    assert detection_processes(None) == min(cores, vad.MAX_AUTO_PROCESSES)
    assert detection_processes(3) == 3
    assert detection_processes(0) == 0

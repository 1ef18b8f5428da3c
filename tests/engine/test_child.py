"""A function run in a child process: its result or exception comes back; a memory cap, a time
limit or a death ends only the child."""

import os
import signal
import time

import pytest

from gpu_engine.child import ChildFailed, run_in_child
from gpu_engine.types import AudioDecodeError


def allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 1024 * 1024))


def fail_with(message: str) -> None:
    raise AudioDecodeError(message)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_the_result_comes_back() -> None:
    assert run_in_child(allocate, 10, timeout_s=30) == 10 * 1024 * 1024


def test_the_exception_comes_back_as_raised() -> None:
    with pytest.raises(AudioDecodeError, match="no audio here"):
        run_in_child(fail_with, "no audio here", timeout_s=30)


def test_an_allocation_past_the_cap_fails_only_the_child() -> None:
    with pytest.raises(ChildFailed, match="more memory than allowed"):
        run_in_child(allocate, 2048, timeout_s=30, memory_bytes=1024**3)


def test_a_child_past_its_time_is_stopped() -> None:
    started = time.monotonic()

    with pytest.raises(ChildFailed, match="longer than 1 s"):
        run_in_child(time.sleep, 30, timeout_s=1)

    assert time.monotonic() - started < 5


def test_a_child_that_dies_is_reported() -> None:
    with pytest.raises(ChildFailed, match="signal 9"):
        run_in_child(die, timeout_s=30)

"""Running a function in a short-lived child process with a memory cap and a time limit.

FFmpeg trusts what a file's header says: a WAV whose LIST chunk claims 4 GB makes it allocate
2 GB before a single sample is read. Whatever reads an untrusted file with PyAV runs here, so
such a file costs only the child, and the caller gets a clear error instead of an out-of-memory
kill of a web or worker process.

The child is a plain `python -m gpu_engine.child` (not multiprocessing's spawn, which re-runs the
caller's main script and takes 0.4 s to start; this takes 0.07 s with PyAV imported). The
function and its arguments go to it pickled on stdin, by reference to their module; what it
returns or raises comes back pickled on stdout.
"""

import pickle
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

Result = TypeVar("Result")

# A child decoding audio peaks at 260 MB of address space (VmPeak: Python, NumPy, FFmpeg's
# libraries and their buffers) and 70 MB resident, whatever the audio's length.
DEFAULT_MEMORY_BYTES = 1024 * 1024 * 1024
_REPO = Path(__file__).resolve().parent.parent


class ChildFailed(Exception):
    """The child ran out of memory or time, or died; the message says which in plain words."""


def run_in_child(
    function: Callable[..., Result],
    *args: Any,
    timeout_s: float,
    memory_bytes: int = DEFAULT_MEMORY_BYTES,
) -> Result:
    """function(*args) in a fresh child process whose address space is capped at `memory_bytes`.

    What the function returns or raises comes back as if it had run here, so arguments and
    results must pickle (paths and small values, not large arrays). Raises ChildFailed when the
    child needed more memory than allowed, ran past `timeout_s`, or died.
    """
    request = b"%d\n" % memory_bytes + pickle.dumps((function, args))
    try:
        child = subprocess.run(
            [sys.executable, "-m", "gpu_engine.child"],
            input=request,
            capture_output=True,
            cwd=_REPO,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ChildFailed(f"it took longer than {timeout_s:g} s") from None
    try:
        succeeded, outcome = pickle.loads(child.stdout)
    except Exception:
        raise ChildFailed(_death(child)) from None
    if not succeeded:
        raise outcome
    return outcome


def _death(child: subprocess.CompletedProcess) -> str:
    if child.returncode < 0:
        return f"it was stopped by signal {-child.returncode}"
    last_line = (child.stderr.decode(errors="replace").strip().splitlines() or [""])[-1]
    if "MemoryError" in last_line:
        return "it needed more memory than allowed"
    return f"it stopped with exit code {child.returncode} ({last_line[-200:]})"


def _main() -> None:
    """In the child: read the request from stdin, answer on stdout (printing goes to stderr)."""
    answer, sys.stdout = sys.stdout.buffer, sys.stderr
    function, args = _request(sys.stdin.buffer)
    try:
        outcome = (True, function(*args))
    except MemoryError:
        outcome = (False, ChildFailed("it needed more memory than allowed"))
    except Exception as error:  # handed to the caller, which decides what it means
        outcome = (False, error if _round_trips(error) else ChildFailed(repr(error)))
    answer.write(pickle.dumps(outcome))
    answer.flush()


def _request(stdin) -> tuple[Callable, tuple]:
    memory_bytes = int(stdin.readline())
    # Capped before the function's module is imported: nothing it does escapes the cap.
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    return pickle.loads(stdin.read())


def _round_trips(error: Exception) -> bool:
    # Some of PyAV's exceptions pickle but do not unpickle (their __init__ takes other arguments).
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return False
    return True


if __name__ == "__main__":
    # Through the module's own name, so that a ChildFailed raised here unpickles in the caller.
    from gpu_engine.child import _main as main

    main()

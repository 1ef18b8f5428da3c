"""Peak memory of this process while a block runs: resident memory (RSS), and CUDA memory when a
GPU is in use.

RSS is this process's and its child processes' (the engine's speech detector processes), sampled
from /proc/<pid>/statm by a background thread, and also this process's own high-water mark from
the kernel (VmHWM), which is reset at the start of the block where the kernel allows it (writing
5 to /proc/self/clear_refs). Without /proc (macOS), resource.getrusage's lifetime peak is the
fallback: it cannot be reset, so it then covers everything before the block too.
"""

import contextlib
import resource
import sys
import threading
from pathlib import Path
from types import TracebackType

_STATM = Path("/proc/self/statm")
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_PAGE = resource.getpagesize()
MIB = 1024 * 1024


class PeakMemory:
    """Context manager; after the block: start_rss, peak_rss and peak_cuda in bytes (peak_cuda
    None when not on CUDA)."""

    def __init__(self, *, cuda: bool = False, interval_s: float = 0.02) -> None:
        self.cuda = cuda
        self.interval_s = interval_s
        self.start_rss = 0
        self.peak_rss = 0
        self.peak_cuda: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "PeakMemory":
        self.start_rss = _current_rss()
        self.peak_rss = self.start_rss
        _reset_high_water_mark()
        if self.cuda:
            _reset_cuda_peak()
            self.peak_cuda = _cuda_used()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_rss = max(self.peak_rss, _high_water_mark())
        if self.cuda:
            self.peak_cuda = max(self.peak_cuda or 0, _cuda_used(), _torch_cuda_peak())

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_rss = max(self.peak_rss, _current_rss())
            if self.cuda:
                self.peak_cuda = max(self.peak_cuda or 0, _cuda_used())


def _current_rss() -> int:
    if not _STATM.is_file():
        return _lifetime_peak()
    return sum(_rss(pid) for pid in ["self", *_children()])


def _children() -> list[str]:
    pids = []
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            pids += (task / "children").read_text().split()
    return pids


def _rss(pid: str) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):  # a child that exited meanwhile
        return 0


def _high_water_mark() -> int:
    if not _STATUS.is_file():
        return _lifetime_peak()
    for line in _STATUS.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_high_water_mark() -> None:
    # Where the kernel refuses, the sampling thread's figure stands alone.
    with contextlib.suppress(OSError):
        _CLEAR_REFS.write_text("5")


def _lifetime_peak() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def _reset_cuda_peak() -> None:
    import torch

    torch.cuda.reset_peak_memory_stats()


def _cuda_used() -> int:
    """Memory in use on the current GPU, all allocators (CTranslate2's too) and processes."""
    import torch

    free, total = torch.cuda.mem_get_info()
    return total - free


def _torch_cuda_peak() -> int:
    import torch

    return torch.cuda.max_memory_reserved()

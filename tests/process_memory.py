"""The resident memory of a process tree, watched while something runs (the web process's, in
the memory test and the load bench)."""

import contextlib
import threading

import psutil


class RssWatch:
    """Samples a process's resident memory, its children's included, every 20 ms."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.baseline = self.peak = self.rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def rss(self) -> int:
        total = 0
        for process in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):  # a child that ended meanwhile
                total += process.memory_info().rss
        return total

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.rss())

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.growth

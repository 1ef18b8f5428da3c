"""Cross-job batching: one thread per loaded model runs the clips of every job in shared batches.

The worker runs Celery with a pool of threads, one job each. A job's thread decodes its file,
finds the speech and prepares its clips, then hands them to the batcher of its model. The
batcher's thread packs clips of all jobs into model calls of at most `batch_seconds` of audio;
each clip's result goes back through its own future, never by position across jobs, and the
job's thread reports progress as its clips finish. Celery stays the only job queue: this one only
holds the clips of jobs already running.
"""

import itertools
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field

from gpu_engine.backends import RecognitionBackend
from gpu_engine.clips import ClipResult, PreparedClip
from gpu_engine.device import batch_seconds, clear_cache, resolve_device
from gpu_engine.models import first_line
from gpu_engine.types import CancelCheck, EngineConfig, EngineError, JobCancelled

logger = logging.getLogger(__name__)

# A batch that is not full starts once its oldest clip has waited this long, so that clips of
# other jobs arriving meanwhile can join it.
GATHER_S = 0.03
# How often a job waiting for its results asks whether it was cancelled.
CANCEL_POLL_S = 0.25
# A job keeps at most this many batches' worth of clips queued: enough for the next batch while
# one runs, without preparing (and holding the features of) a long file all at once.
IN_FLIGHT_BATCHES = 2
# Batches remembered in Batcher.recent.
RECENT_BATCHES = 100
# How long closing a batcher waits for the batch it is running.
CLOSE_TIMEOUT_S = 30.0


@dataclass(eq=False)
class Request:
    """One clip of one job, waiting for the model."""

    job: int
    index: int  # the clip's place in its job
    clip: PreparedClip
    future: Future[ClipResult] = field(default_factory=Future)
    arrived: float = 0.0  # when it was queued (time.monotonic())


@dataclass(frozen=True)
class BatchRecord:
    """One model call: the job of each clip in it, and the audio seconds it cost."""

    jobs: tuple[int, ...]
    cost_s: float


class Batcher:
    def __init__(self, backend: RecognitionBackend, *, batch_seconds: float, name: str) -> None:
        self.backend = backend
        self.name = name
        # Lowered by out-of-memory errors, never raised again: what fitted once stays the limit.
        self.batch_seconds = batch_seconds
        # Model calls that ran out of GPU memory, for the worker's status.
        self.oom_events = 0
        self.recent: deque[BatchRecord] = deque(maxlen=RECENT_BATCHES)
        # Each running job's clips not yet taken, oldest first; jobs in turn order.
        self._queues: dict[int, deque[Request]] = {}
        self._changed = threading.Condition()
        self._job_numbers = itertools.count(1)
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name=f"batcher-{name}", daemon=True)
        self._thread.start()

    def results(
        self, clips: Iterable[PreparedClip], *, should_cancel: CancelCheck
    ) -> Iterator[tuple[int, ClipResult]]:
        """(index, result) for each of one job's clips as it finishes, in the caller's thread.

        `clips` is consumed as room frees up. Once `should_cancel()` says so, JobCancelled is
        raised at the next clip and the job's clips not yet started are withdrawn; a failed batch
        raises its EngineError in every job that had a clip in it.
        """
        job = next(self._job_numbers)
        remaining = iter(enumerate(clips))
        waiting: dict[Future[ClipResult], Request] = {}
        try:
            while self._top_up(job, remaining, waiting):
                done, _ = wait(waiting, timeout=CANCEL_POLL_S, return_when=FIRST_COMPLETED)
                if not done:
                    _stop_if_cancelled(should_cancel)
                for future in sorted(done, key=lambda f: waiting[f].index):
                    _stop_if_cancelled(should_cancel)
                    yield waiting.pop(future).index, future.result()
        finally:
            self._withdraw(job, waiting)

    def _top_up(
        self,
        job: int,
        remaining: Iterator[tuple[int, PreparedClip]],
        waiting: dict[Future[ClipResult], Request],
    ) -> bool:
        """Queue the job's next clips while it has room; False once it has nothing left.

        Clips are queued a batch's worth at a time, so that a batch does not start with the
        job's first clip alone while the job is still preparing the next ones.
        """
        room = IN_FLIGHT_BATCHES * self.batch_seconds - _cost(waiting.values())
        while room > 0 and (prepared := _prepare(job, remaining, min(room, self.batch_seconds))):
            waiting.update((request.future, request) for request in prepared)
            room -= _cost(prepared)
            with self._changed:
                for request in prepared:
                    request.arrived = time.monotonic()
                self._queues.setdefault(job, deque()).extend(prepared)
                self._changed.notify()
        return bool(waiting)

    def _withdraw(self, job: int, waiting: dict[Future[ClipResult], Request]) -> None:
        with self._changed:
            self._queues.pop(job, None)
        for future in waiting:
            future.cancel()  # a clip already in a batch finishes unseen

    def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Stop serving once the clips already queued are done (its model is being unloaded),
        and wait for the thread to end, letting go of the model."""
        with self._changed:
            self._closed = True
            self._changed.notify()
        self._thread.join(timeout_s)

    def _serve(self) -> None:
        while (batch := self._take()) is not None:
            try:
                self._run(batch)
            except Exception as error:  # a fault of ours, not the model's: keep serving
                logger.exception("The batcher failed on a batch of %d clips", len(batch))
                _fail(batch, error)

    def _take(self) -> list[Request] | None:
        """The next batch, waiting for clips, and briefly for other jobs' clips to join; None
        once closed with nothing queued."""
        with self._changed:
            while True:
                if not self._queues:
                    if self._closed:
                        return None
                    self._changed.wait()
                    continue
                oldest = min(queue[0].arrived for queue in self._queues.values())
                gather = oldest + GATHER_S - time.monotonic()
                if gather > 0 and not self._full():
                    self._changed.wait(gather)
                    continue
                chosen = choose_batch(list(self._queues.values()), self.batch_seconds)
                self._dequeue(chosen)
                # A job that cancelled after the pick drops its clips here.
                batch = [r for r in chosen if r.future.set_running_or_notify_cancel()]
                if batch:
                    return batch

    def _full(self) -> bool:
        return sum(_cost(queue) for queue in self._queues.values()) >= self.batch_seconds

    def _dequeue(self, chosen: list[Request]) -> None:
        for request in chosen:
            self._queues[request.job].remove(request)
        # The job that led this batch goes to the back of the turn order.
        leader = chosen[0].job
        queue = self._queues.pop(leader)
        if queue:
            self._queues[leader] = queue
        for job in [job for job, queue in self._queues.items() if not queue]:
            del self._queues[job]

    def _run(self, batch: list[Request]) -> None:
        cost = _batch_cost(batch)
        self.recent.append(BatchRecord(jobs=tuple(r.job for r in batch), cost_s=cost))
        try:
            results = self.backend.recognize_batch([r.clip for r in batch])
        except Exception as error:
            if not is_out_of_memory(error):
                _fail(batch, error)
                return
            self.oom_events += 1
            if len(batch) == 1:
                _fail(batch, error)
                return
            results = None
        if results is None:
            # Retried after the except block: the error's traceback no longer holds the failed
            # call's tensors, so the cache can let them go.
            self._run_in_halves(batch, cost)
            return
        for request, result in zip(batch, results, strict=True):
            request.future.set_result(result)

    def _run_in_halves(self, batch: list[Request], cost: float) -> None:
        freed = clear_cache()
        half = len(batch) // 2
        # Later batches stay within what may fit, rather than failing first every time. Never
        # below one clip: the cost is the longest clip times two or more clips.
        self.batch_seconds = min(self.batch_seconds, cost / 2)
        logger.warning(
            "Out of GPU memory on a batch of %d clips (%.0f s of audio); freed %.0f MiB of "
            "cached memory, retrying as batches of %d and %d clips; batches are now limited to "
            "%.0f s of audio",
            len(batch),
            cost,
            freed / 2**20,
            half,
            len(batch) - half,
            self.batch_seconds,
        )
        self._run(batch[:half])
        self._run(batch[half:])


def choose_batch(queues: Sequence[Sequence[Request]], budget_s: float) -> list[Request]:
    """The clips of the next model call, from the jobs' queues (in turn order, oldest first).

    Jobs take turns clip by clip, so a long file does not hold up the short ones behind it. The
    first clip in that order leads the batch; clips of its group join it, those closest in length
    first (padding is wasted work), while the batch's cost, its longest clip times its size, stays
    within `budget_s`. The leader goes even when it alone exceeds the budget.
    """
    in_turn = [r for row in itertools.zip_longest(*queues) for r in row if r is not None]
    leader = in_turn[0]
    candidates = [r for r in in_turn if r.clip.group == leader.clip.group]
    # A stable sort: among clips as close in length, the turn order stands.
    candidates.sort(key=lambda r: abs(r.clip.cost_s - leader.clip.cost_s))
    batch: list[Request] = []
    for request in candidates:
        if not batch or _batch_cost([*batch, request]) <= budget_s:
            batch.append(request)
    return batch


def _batch_cost(batch: Sequence[Request]) -> float:
    return max(r.clip.cost_s for r in batch) * len(batch)


def _cost(requests: Iterable[Request]) -> float:
    return sum(r.clip.cost_s for r in requests)


def _prepare(
    job: int, remaining: Iterator[tuple[int, PreparedClip]], seconds: float
) -> list[Request]:
    """The job's next clips, prepared (in this thread), up to `seconds` of cost."""
    prepared: list[Request] = []
    while _cost(prepared) < seconds and (item := next(remaining, None)) is not None:
        prepared.append(Request(job=job, index=item[0], clip=item[1]))
    return prepared


def is_out_of_memory(error: BaseException) -> bool:
    """Whether `error` is a GPU out-of-memory error, from torch or from CTranslate2."""
    # torch is looked up, not imported: without it loaded, no torch error can have been raised.
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    # CTranslate2 reports CUDA's own error as a RuntimeError.
    return isinstance(error, RuntimeError) and "out of memory" in str(error)


def _fail(batch: list[Request], error: Exception) -> None:
    """Fail every clip of `batch` with a reason its job's user can read."""
    if is_out_of_memory(error):
        seconds = max(r.clip.seconds for r in batch)
        message = (
            f"One {seconds:.0f}-second segment does not fit in GPU memory, even "
            "alone. A shorter MAX_SEGMENT_S, a smaller model or a GPU with more memory would help."
        )
        logger.warning("Out of GPU memory on a single clip: %s", message)
    elif isinstance(error, EngineError):
        message = str(error)
    else:
        logger.error("Recognition failed on a batch of %d clips", len(batch), exc_info=error)
        message = f"Recognition failed: {first_line(error)}"
    for request in batch:
        if not request.future.done():
            # One exception per job: each job's thread raises (and adds a traceback to) its own.
            request.future.set_exception(EngineError(message))


def _stop_if_cancelled(should_cancel: CancelCheck) -> None:
    if should_cancel():
        raise JobCancelled()


_batchers: dict[int, Batcher] = {}
_batchers_lock = threading.Lock()


def batcher_for(backend: RecognitionBackend, config: EngineConfig) -> Batcher:
    """The one batcher of `backend`'s model, started on first use."""
    # A model's batcher holds it, so its id is not reused until batcher_close lets both go.
    key = id(backend.model)
    with _batchers_lock:
        if key not in _batchers:
            _batchers[key] = Batcher(
                backend,
                batch_seconds=batch_seconds(config.batch_seconds, resolve_device(config.device)),
                name=backend.preset,
            )
        return _batchers[key]


def batcher_close(model: object) -> None:
    """Stop the batcher of `model` (being unloaded), if it has one."""
    with _batchers_lock:
        batcher = _batchers.pop(id(model), None)
    if batcher is not None:
        batcher.close()


def batcher_report() -> list[dict[str, object]]:
    """Each loaded model's batcher, for the worker's status: its batch budget now (audio seconds
    per model call, lowered by out-of-memory errors) and how many of those it met."""
    with _batchers_lock:
        batchers = list(_batchers.values())
    return [
        {
            "model": batcher.name,
            "batch_seconds": round(batcher.batch_seconds, 1),
            "oom_events": batcher.oom_events,
        }
        for batcher in batchers
    ]

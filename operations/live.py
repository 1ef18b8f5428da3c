"""The workers page's live feed: each heartbeat's status, sent to the staff sockets
(operations.consumers) through the channel layer. Redis stays the truth (operations.selectors);
a status that is not sent only leaves the page one heartbeat behind."""

from typing import Any

from transcription.progress import send_event

# Joined by staff sockets only (operations.consumers refuses everyone else).
WORKERS_GROUP = "operations.workers"
STATUS_EVENT_TYPE = "worker.status"


def publish_worker(worker: dict[str, Any]) -> None:
    """Best effort: a channel layer that fails is logged and never stops the heartbeat."""
    send_event(WORKERS_GROUP, {"type": STATUS_EVENT_TYPE, "worker": worker})

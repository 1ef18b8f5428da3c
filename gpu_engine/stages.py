"""The stages a job passes through, named once: the engine reports them, the portal stores
them (transcription.models.JobStage is built from this) and the pages label them."""

from enum import StrEnum


class Stage(StrEnum):
    QUEUED = "queued"
    DOWNLOADING_MODEL = "downloading_model"
    DECODING = "decoding"
    SEGMENTING = "segmenting"
    TRANSCRIBING = "transcribing"
    DIARIZING = "diarizing"
    FINALIZING = "finalizing"

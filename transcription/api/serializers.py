import dataclasses
import functools

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Manager
from django.urls import reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from accounts.models import Team
from gpu_engine.presets import LANGUAGES, language_refusal
from transcription import editing, queue
from transcription.exports import FORMATS
from transcription.hotwords import clean_hotwords, hotwords_note
from transcription.models import (
    HotwordList,
    Job,
    JobStatus,
    JobTelemetry,
    Recording,
    Revision,
    Segment,
    Upload,
)
from transcription.quotas import Usage
from transcription.selectors import PERSONAL, HistoryFilters, team_for


def member_team(user: AbstractBaseUser, team_id: int | None) -> Team | None:
    """The team `team_id` names, the user being one of its members; None for None."""
    if team_id is None:
        return None
    team = team_for(user, team_id)
    if team is None:
        raise serializers.ValidationError(
            _("You are not a member of team %(team)s.") % {"team": team_id}
        )
    return team


class TagNamesField(serializers.ListField):
    """The names of a recording's tags; written as a list of names (its tags become those)."""

    child = serializers.CharField(max_length=40)

    def to_representation(self, tags: Manager) -> list[str]:
        return [tag.name for tag in tags.all()]  # prefetched, in name order


class RecordingSerializer(serializers.ModelSerializer):
    tags = TagNamesField(required=False, max_length=20)
    audio_url = serializers.SerializerMethodField()
    uploader = serializers.CharField(source="owner.get_username", read_only=True)
    # Writable in an update: into a team (from the personal workspace), private or not.
    team = serializers.IntegerField(source="team_id", required=False)

    class Meta:
        model = Recording
        fields = [
            "id",
            "name",
            "team",
            "private",
            "uploader",
            "size_bytes",
            "container",
            "codec",
            "sample_rate",
            "channels",
            "duration_s",
            "created_at",
            "audio_url",
            "audio_removed_at",
            "tags",
        ]
        read_only_fields = [f for f in fields if f not in {"name", "team", "private", "tags"}]

    def get_audio_url(self, recording: Recording) -> str | None:
        if not recording.has_audio:
            return None
        return reverse("api:recording-audio", args=[recording.pk])

    def validate(self, attrs: dict) -> dict:
        if "team_id" in attrs:
            attrs["team"] = attrs.pop("team_id")
        return attrs


# The serializer context's key for the queue places (transcription.queue.places) of the jobs
# being written: a list finds those of its whole page at once.
QUEUE_PLACES = "queue_places"


def queue_place(context: dict, job: Job) -> queue.Place | None:
    """The job's place in the queue; None when it is not waiting."""
    if job.status != JobStatus.QUEUED:
        return None
    known = context.setdefault(QUEUE_PLACES, {})
    if job.pk not in known:
        known.update(queue.places([job]))
    return known.get(job.pk)


class QueuePlacesListSerializer(serializers.ListSerializer):
    """A page of jobs (or of recordings with their latest job) whose queue places are read in
    one go, not once per waiting job."""

    def to_representation(self, data: object) -> list:
        items = list(data.all() if isinstance(data, Manager) else data)
        jobs = [job for item in items if (job := self.child.job_of(item)) is not None]
        self.context.setdefault(QUEUE_PLACES, {}).update(queue.places(jobs))
        return super().to_representation(items)


class RecordingWithJobSerializer(RecordingSerializer):
    latest_job = serializers.SerializerMethodField()

    class Meta(RecordingSerializer.Meta):
        fields = [*RecordingSerializer.Meta.fields, "latest_job"]
        list_serializer_class = QueuePlacesListSerializer

    @staticmethod
    def job_of(recording: Recording) -> Job | None:
        # Ordered latest-first by the prefetch in selectors.recordings_for.
        return next(iter(recording.jobs.all()), None)

    def get_latest_job(self, recording: Recording) -> dict | None:
        job = self.job_of(recording)
        return self._job_serializer.to_representation(job) if job else None

    @functools.cached_property
    def _job_serializer(self) -> "JobSerializer":
        # One for the whole page: DRF builds a model serializer's fields anew for each instance,
        # which was most of a History page's time.
        return JobSerializer(context=self.context)


class SegmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Segment
        fields = ["start", "end", "text"]


class SearchHitSerializer(serializers.ModelSerializer):
    recording = serializers.IntegerField(source="job.recording_id")
    recording_name = serializers.CharField(source="job.recording.name")
    # The name given to the line's speaker, else its label ("" when speakers were not found).
    speaker_name = serializers.CharField(read_only=True)

    class Meta:
        model = Segment
        fields = ["recording", "recording_name", "job", "index", "start", "end", "speaker",
                  "speaker_name", "text"]  # fmt: skip


STAFF_TELEMETRY = ("worker", "device", "peak_gpu_bytes")
USER_TELEMETRY = tuple(
    field.name for field in dataclasses.fields(JobTelemetry) if field.name not in STAFF_TELEMETRY
)


class JobSerializer(serializers.ModelSerializer):
    hotwords = serializers.ListField(source="hotword_list", child=serializers.CharField())
    hotwords_note = serializers.SerializerMethodField()
    telemetry = serializers.SerializerMethodField()
    queue_position = serializers.SerializerMethodField()
    eta_s = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id",
            "status",
            "stage",
            "progress",
            "message",
            "error",
            "model",
            "language",
            "hotwords",
            "hotwords_note",
            "itn",
            "identify_speakers",
            "num_speakers",
            "min_speakers",
            "max_speakers",
            "detected_language",
            "attempts",
            "queue_position",
            "eta_s",
            "created_at",
            "started_at",
            "finished_at",
            "telemetry",
            "recording",
        ]
        read_only_fields = fields
        list_serializer_class = QueuePlacesListSerializer

    @staticmethod
    def job_of(job: Job) -> Job:
        return job

    def get_hotwords_note(self, job: Job) -> str:
        return hotwords_note(job.model) if job.hotwords else ""

    def get_telemetry(self, job: Job) -> dict:
        """Where the finishing attempt's time went (None where not measured). The worker, the
        device and its memory name the infrastructure: staff only see those."""
        telemetry = {name: getattr(job, name) for name in USER_TELEMETRY}
        request = self.context.get("request")
        if request is not None and request.user.is_staff:
            telemetry.update({name: getattr(job, name) for name in STAFF_TELEMETRY})
        return telemetry

    def to_representation(self, job: Job) -> dict:
        data = super().to_representation(job)
        data["recording"] = RecordingSerializer(job.recording, context=self.context).data
        return data

    # While it waits: 1 runs next, and its expected start in seconds from now (null until the
    # fleet's speed has been measured). Both null once it runs or has ended.
    def get_queue_position(self, job: Job) -> int | None:
        place = queue_place(self.context, job)
        return place.position if place else None

    def get_eta_s(self, job: Job) -> float | None:
        place = queue_place(self.context, job)
        return place.eta_s if place else None


class JobDetailSerializer(JobSerializer):
    transcript = serializers.SerializerMethodField()

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "transcript"]
        read_only_fields = fields

    def get_transcript(self, job: Job) -> dict | None:
        if job.status != JobStatus.SUCCEEDED:
            return None
        return {
            "text": job.text,
            "language": job.detected_language,
            "segments": SegmentSerializer(job.segments.all(), many=True).data,
        }


MAX_SPEAKERS = 20
# Lazy: each answer in the asker's language.
SPEAKER_COUNT_ERROR = format_lazy(_("Say between 1 and {most} speakers."), most=MAX_SPEAKERS)
SPEAKER_COUNT_ERRORS = {"min_value": SPEAKER_COUNT_ERROR, "max_value": SPEAKER_COUNT_ERROR}
SPEAKER_COUNTS = ("num_speakers", "min_speakers", "max_speakers")


def speaker_count_field() -> serializers.IntegerField:
    # Null or absent: let diarization find how many there are.
    return serializers.IntegerField(
        min_value=1,
        max_value=MAX_SPEAKERS,
        required=False,
        allow_null=True,
        default=None,
        error_messages=SPEAKER_COUNT_ERRORS,
    )


def enabled_model(model: str) -> str:
    if model not in settings.ASR_ENABLED_MODELS:
        enabled = ", ".join(settings.ASR_ENABLED_MODELS)
        raise serializers.ValidationError(f"'{model}' is not an enabled model ({enabled}).")
    return model


def hotwords_text(hotwords: str) -> str:
    return "\n".join(clean_hotwords(hotwords))


class RetryChoicesSerializer(serializers.Serializer):
    """A re-run's other choices, each validated as at upload; one left out keeps the job's.
    The job is in the context (the language is checked against the model it will run)."""

    model = serializers.CharField(required=False, max_length=64)
    language = serializers.ChoiceField(choices=list(LANGUAGES), required=False)
    hotwords = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    itn = serializers.BooleanField(required=False)

    validate_model = staticmethod(enabled_model)
    validate_hotwords = staticmethod(hotwords_text)

    def validate(self, attrs: dict) -> dict:
        job = self.context["job"]
        refusal = language_refusal(
            attrs.get("model", job.model), attrs.get("language", job.language)
        )
        if refusal:
            raise serializers.ValidationError({"language": refusal})
        return attrs


class UploadOptionsSerializer(serializers.Serializer):
    language = serializers.ChoiceField(choices=list(LANGUAGES), default="auto")
    model = serializers.CharField(required=False, max_length=64)
    hotwords = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=20_000
    )
    itn = serializers.BooleanField(default=True)
    # The workspace: absent or null, the uploader's personal one.
    team = serializers.IntegerField(required=False, allow_null=True, default=None)
    private = serializers.BooleanField(default=False)
    # Absent (null): the workspace's default, the team's setting or off in a personal one.
    speakers = serializers.BooleanField(required=False, allow_null=True, default=None)
    num_speakers = speaker_count_field()
    min_speakers = speaker_count_field()
    max_speakers = speaker_count_field()

    def validate_team(self, team_id: int | None) -> Team | None:
        return member_team(self.context["request"].user, team_id)

    validate_model = staticmethod(enabled_model)
    validate_hotwords = staticmethod(hotwords_text)

    def validate(self, attrs: dict) -> dict:
        if attrs["private"] and attrs["team"] is None:
            raise serializers.ValidationError(
                {"private": _("Only a team's recording can be private.")}
            )
        attrs.setdefault("model", settings.ASR_MODEL)
        refusal = language_refusal(attrs["model"], attrs["language"])
        if refusal:
            raise serializers.ValidationError({"language": refusal})
        attrs["speakers"] = self._identify_speakers(attrs)
        return attrs

    def _identify_speakers(self, attrs: dict) -> bool:
        """Counts given without `speakers` ask for speakers; with speakers off they are refused."""
        counted = {name: attrs[name] for name in SPEAKER_COUNTS if attrs[name] is not None}
        if attrs["num_speakers"] is not None and len(counted) > 1:
            raise serializers.ValidationError(
                {"num_speakers": _("Give the number of speakers or a range "
                                   "(min_speakers, max_speakers), not both.")}
            )  # fmt: skip
        low, high = attrs["min_speakers"], attrs["max_speakers"]
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError(
                {
                    "min_speakers": _(
                        "min_speakers (%(low)s) is more than max_speakers (%(high)s)."
                    )
                    % {"low": low, "high": high}
                }
            )
        if attrs["speakers"] is False and counted:
            raise serializers.ValidationError(
                {"speakers": f"{', '.join(counted)} asks for speakers to be identified: "
                 "leave speakers out or set it to true."}
            )  # fmt: skip
        if attrs["speakers"] is None:
            team = attrs["team"]
            return bool(counted) or (team is not None and team.default_identify_speakers)
        return attrs["speakers"]


class FinishedUploadsSerializer(serializers.Serializer):
    """The resumable uploads a POST /api/recordings/ turns into recordings."""

    uploads = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        default=list,
        max_length=settings.DATA_UPLOAD_MAX_NUMBER_FILES,
    )


class UploadSerializer(serializers.ModelSerializer):
    offset = serializers.IntegerField(source="received", read_only=True)
    complete = serializers.BooleanField(source="is_complete", read_only=True)
    chunk_bytes = serializers.SerializerMethodField()

    class Meta:
        model = Upload
        fields = ["id", "name", "size", "offset", "complete", "chunk_bytes", "created_at",
                  "updated_at"]  # fmt: skip
        read_only_fields = fields

    def get_chunk_bytes(self, upload: Upload) -> int:
        return settings.UPLOAD_CHUNK_BYTES


class UploadCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=1000)
    size = serializers.IntegerField(min_value=0)
    # The workspace it is for, as in POST /api/recordings/: its storage left is checked now.
    team = serializers.IntegerField(required=False, allow_null=True, default=None)

    def validate_team(self, team_id: int | None) -> Team | None:
        return member_team(self.context["request"].user, team_id)


class UsageSerializer(serializers.Serializer):
    """quotas.Usage; limits and what is left are null where there is no limit."""

    workspace = serializers.SerializerMethodField()
    month = serializers.DateField(format="%Y-%m")
    audio_hours_this_month = serializers.FloatField(source="audio_hours")
    monthly_audio_hours = serializers.FloatField(source="audio_hours_limit")
    audio_hours_left = serializers.FloatField()
    storage_bytes = serializers.IntegerField()
    storage_limit_bytes = serializers.IntegerField()
    storage_bytes_left = serializers.IntegerField()

    def get_workspace(self, usage: Usage) -> str | int:
        return usage.workspace if usage.workspace == PERSONAL else usage.workspace.pk


class HotwordListSerializer(serializers.ModelSerializer):
    # A team of the user's: the list is the team's (set when it is made, then fixed).
    team = serializers.IntegerField(source="team_id", required=False, allow_null=True)

    class Meta:
        model = HotwordList
        fields = ["id", "name", "words", "active", "team", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_words(self, words: str) -> str:
        return "\n".join(clean_hotwords(words))

    def validate_team(self, team_id: int | None) -> Team | int | None:
        if self.instance is not None:
            return team_id  # fixed once made: ignored below
        return member_team(self.context["request"].user, team_id)

    def validate(self, attrs: dict) -> dict:
        if self.instance is not None:
            attrs.pop("team_id", None)
            team = self.instance.team
        else:
            team = attrs["team"] = attrs.pop("team_id", None)
        if "name" in attrs:
            self._check_name_free(attrs["name"], team)
        return attrs

    def _check_name_free(self, name: str, team: Team | None) -> None:
        if team is None:
            taken = HotwordList.objects.filter(owner=self.context["request"].user, team=None)
        else:
            taken = HotwordList.objects.filter(team=team)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.filter(name=name).exists():
            clash = (
                _("You already have a list with this name.")
                if team is None
                else _("The team already has a list with this name.")
            )
            raise serializers.ValidationError({"name": clash})


class TranscriptSegmentSerializer(serializers.ModelSerializer):
    speaker_name = serializers.CharField(read_only=True)

    class Meta:
        model = Segment
        fields = ["id", "index", "start", "end", "speaker", "speaker_name", "text"]
        read_only_fields = fields


class TranscriptSerializer(serializers.Serializer):
    """The transcript as edited: its version (each save names it), every speaker label with its
    name ("" when unnamed) and the lines in order, each with the name shown for its speaker."""

    version = serializers.IntegerField(source="transcript_version")
    speakers = serializers.SerializerMethodField()
    segments = serializers.SerializerMethodField()

    def get_speakers(self, job: Job) -> dict[str, str]:
        return {label: job.speaker_names.get(label, "") for label in editing.speaker_labels(job)}

    def get_segments(self, job: Job) -> list:
        return TranscriptSegmentSerializer(job.segments.order_by("index"), many=True).data


class RevisionSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.get_username", default=None)

    class Meta:
        model = Revision
        fields = ["version", "author", "created_at", "action", "summary"]
        read_only_fields = fields


class TranscriptChangeSerializer(serializers.Serializer):
    """Every save names the version it was made on: a stale one is refused (409)."""

    version = serializers.IntegerField(min_value=0)


class SegmentChangeSerializer(TranscriptChangeSerializer):
    text = serializers.CharField(required=False, allow_blank=True, max_length=20_000)
    speaker = serializers.CharField(required=False, max_length=editing.MAX_LABEL_LENGTH)


class SegmentSplitSerializer(TranscriptChangeSerializer):
    at = serializers.IntegerField(min_value=1, help_text="a character offset inside the text")


class SpeakerRenameSerializer(TranscriptChangeSerializer):
    speaker = serializers.CharField(max_length=editing.MAX_LABEL_LENGTH)
    name = serializers.CharField(allow_blank=True, max_length=editing.MAX_NAME_LENGTH)


class SpeakerMergeSerializer(TranscriptChangeSerializer):
    speaker = serializers.CharField(max_length=editing.MAX_LABEL_LENGTH)
    into = serializers.CharField(max_length=editing.MAX_LABEL_LENGTH)


class TranscriptRestoreSerializer(TranscriptChangeSerializer):
    to = serializers.IntegerField(
        min_value=0, help_text="the version to go back to; 0: as recognised"
    )


HISTORY_ORDERINGS = [f"{sign}{field}" for field in ("created_at", "name", "duration_s")
                     for sign in ("-", "")]  # fmt: skip


class HistoryFilterSerializer(serializers.Serializer):
    """GET /api/recordings/'s query: each filter optional; a value it cannot use is a 400 that
    names it."""

    q = serializers.CharField(required=False, max_length=200, trim_whitespace=True)
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    language = serializers.CharField(required=False, max_length=16)
    model = serializers.CharField(required=False, max_length=64)
    status = serializers.ChoiceField(choices=JobStatus.choices, required=False)
    duration_min = serializers.FloatField(required=False, min_value=0)
    duration_max = serializers.FloatField(required=False, min_value=0)
    tag = serializers.CharField(required=False, max_length=40)
    ordering = serializers.ChoiceField(choices=HISTORY_ORDERINGS, required=False)

    def validate(self, attrs: dict) -> dict:
        for low, high in (("date_from", "date_to"), ("duration_min", "duration_max")):
            if (
                attrs.get(low) is not None
                and attrs.get(high) is not None
                and attrs[low] > attrs[high]
            ):
                raise serializers.ValidationError({high: [_("Must not be before %s.") % low]})
        return attrs

    def filters(self) -> HistoryFilters:
        return HistoryFilters(**self.validated_data)


class BulkActionSerializer(serializers.Serializer):
    """POST /api/recordings/bulk/: what to do with which recordings (the History's selection)."""

    action = serializers.ChoiceField(choices=["export", "delete", "rerun"])
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=500
    )
    format = serializers.ChoiceField(choices=list(FORMATS), default="txt")

    def validate_ids(self, ids: list[int]) -> list[int]:
        return list(dict.fromkeys(ids))  # each once, in the order given

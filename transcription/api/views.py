from django.conf import settings
from django.http import FileResponse, HttpResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.defaults import language_choices
from accounts.models import Team
from gpu_engine.presets import PRESET_LANGUAGES
from transcription import bulk, media, quotas, selectors, services, uploads
from transcription.api.editing import TranscriptEditing
from transcription.api.serializers import (
    BulkActionSerializer,
    FinishedUploadsSerializer,
    HistoryFilterSerializer,
    HotwordListSerializer,
    JobDetailSerializer,
    JobSerializer,
    RecordingWithJobSerializer,
    RetryChoicesSerializer,
    SearchHitSerializer,
    UploadCreateSerializer,
    UploadOptionsSerializer,
    UploadSerializer,
    UsageSerializer,
)
from transcription.exports import FORMATS, export_job
from transcription.forms import SearchForm
from transcription.hotwords import LIST_STEWARDS_ONLY, model_hotword_support
from transcription.model_choice import model_descriptions
from transcription.models import JobStatus, Recording, Upload

STEWARDS_ONLY = _("Only its uploader and the team's owners and admins can change this recording.")
# No room left in the workspace: for storage, the upload is too large (413); for audio hours,
# 429 as for the API's other quotas: the limit is a rate (hours a month) and lifts next month,
# while 403 would read as "you may not", which the API answers to roles.
OVER_QUOTA_STATUS = {
    quotas.Limit.STORAGE: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    quotas.Limit.AUDIO_HOURS: status.HTTP_429_TOO_MANY_REQUESTS,
}


class StewardOrReadOnly(BasePermission):
    """Whoever may see a recording reads it; its uploader and, in a team, the team's owners and
    admins also change it (selectors.recordings_managed_by)."""

    message = STEWARDS_ONLY

    def has_object_permission(self, request: Request, view: APIView, obj: object) -> bool:
        if request.method in SAFE_METHODS:
            return True
        recording = obj if isinstance(obj, Recording) else obj.recording
        return selectors.recordings_managed_by(request.user).filter(pk=recording.pk).exists()


def requested_workspace(request: Request) -> Team | str | None:
    """?workspace=personal|<team id>: one workspace; absent: all the user's workspaces."""
    asked = request.query_params.get("workspace")
    if asked is None or asked == "":
        return None
    if asked == selectors.PERSONAL:
        return selectors.PERSONAL
    team = selectors.team_for(request.user, asked)
    if team is None:
        raise NotFound(_("No such workspace: %(name)s.") % {"name": asked[:40]})
    return team


class RecordingViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = RecordingWithJobSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    permission_classes = [IsAuthenticated, StewardOrReadOnly]

    def get_queryset(self):
        if self.action != "list":
            return selectors.recordings_for(self.request.user)
        query = HistoryFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.recording_history(
            self.request.user, requested_workspace(self.request), query.filters()
        )

    def create(self, request: Request) -> Response:
        files = request.FILES.getlist("files")
        finished = self._finished_uploads(request)
        if not files and not finished:
            raise ValidationError(
                {
                    "files": [
                        _(
                            "Attach one or more audio files in the field 'files', or name "
                            "finished uploads in the field 'uploads'."
                        )
                    ]
                }
            )
        options = UploadOptionsSerializer(data=request.data, context={"request": request})
        options.is_valid(raise_exception=True)
        placement = services.Placement(
            team=options.validated_data.pop("team"), private=options.validated_data.pop("private")
        )
        job_request = services.JobRequest(**options.validated_data)
        jobs, rejected = [], []
        if files:
            jobs, rejected = services.recordings_create(
                owner=request.user, files=files, options=job_request, placement=placement
            )
        if finished:
            more_jobs, more_rejected = uploads.recordings_create_from_uploads(
                owner=request.user, uploads=finished, options=job_request, placement=placement
            )
            jobs, rejected = jobs + more_jobs, rejected + more_rejected
        body = {
            "jobs": JobSerializer(jobs, many=True, context={"request": request}).data,
            "rejected": [{"file": r.file, "reason": r.reason} for r in rejected],
        }
        if not jobs:
            body["detail"] = "; ".join(f"{r.file}: {r.reason}" for r in rejected)
            return Response(body, status=_refusal_status(rejected))
        return Response(body, status=status.HTTP_201_CREATED)

    def _finished_uploads(self, request: Request) -> list[Upload]:
        ids = FinishedUploadsSerializer(data=request.data)
        ids.is_valid(raise_exception=True)
        wanted = list(dict.fromkeys(ids.validated_data["uploads"]))
        found = selectors.uploads_for(request.user).in_bulk(wanted)
        unknown = [str(upload_id) for upload_id in wanted if upload_id not in found]
        if unknown:
            raise ValidationError(
                {"uploads": [_("No such upload: %(ids)s.") % {"ids": ", ".join(unknown)}]}
            )
        return [found[upload_id] for upload_id in wanted]

    def perform_update(self, serializer: RecordingWithJobSerializer) -> None:
        recording, changes = serializer.instance, serializer.validated_data
        if "name" in changes:
            services.recording_rename(recording=recording, name=changes["name"])
        if "team" in changes:
            self._move(recording, changes["team"], changes.get("private", False))
        elif "private" in changes:
            self._set_private(recording, changes["private"])
        if "tags" in changes:
            services.recording_set_tags(recording=recording, names=changes["tags"])

    def _move(self, recording: Recording, team_id: int, private: bool) -> None:
        if not selectors.may_move(self.request.user, recording):
            raise PermissionDenied(
                _("Only its uploader can move a recording, and only from their personal workspace.")
            )
        team = selectors.team_for(self.request.user, team_id)
        if team is None:
            raise ValidationError(
                {"team": [_("You are not a member of team %(team)s.") % {"team": team_id}]}
            )
        services.recording_move(recording=recording, team=team, private=private)

    def _set_private(self, recording: Recording, private: bool) -> None:
        if recording.team_id is None:
            raise ValidationError({"private": [_("Only a team's recording can be private.")]})
        services.recording_set_private(recording=recording, private=private)

    def perform_destroy(self, recording) -> None:
        services.recording_delete(recording=recording)

    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> HttpResponse:
        """{action: export|delete|rerun, ids, format}: export answers a zip of the transcripts
        (README.txt in it says which were left out); delete and rerun say which were done and
        which refused, and why."""
        asked = BulkActionSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        action, ids = asked.validated_data["action"], asked.validated_data["ids"]
        if action == "export":
            archive = bulk.transcripts_zip(request.user, ids, asked.validated_data["format"])
            return FileResponse(
                archive, as_attachment=True, filename="transcripts.zip",
                content_type="application/zip",
            )  # fmt: skip
        run = bulk.recordings_delete if action == "delete" else bulk.recordings_rerun
        outcome = run(request.user, ids)
        return Response({"done": outcome.done, "refused": outcome.refused})

    @action(detail=True, methods=["get"])
    def audio(self, request: Request, pk: str) -> HttpResponse:
        recording = self.get_object()
        if not recording.has_audio:
            removed = _(
                "The audio was removed on %(date)s (the team's retention period); "
                "the transcript is kept."
            )
            return Response(
                {"detail": removed % {"date": f"{recording.audio_removed_at:%Y-%m-%d}"}},
                status=status.HTTP_410_GONE,
            )
        stored = recording.playback_file or recording.file
        return media.stored_file_response(
            request,
            stored.storage,
            stored.name,
            content_type=media.audio_content_type(stored.name, recording.container),
            filename=recording.name,
        )


def _refusal_status(rejected: list[services.Rejection]) -> int:
    """400 for files refused as files; where none was but some passed a quota, that quota's."""
    limits = [r.over_quota for r in rejected]
    if None in limits or not limits:
        return status.HTTP_400_BAD_REQUEST
    return OVER_QUOTA_STATUS[limits[0]]


class UploadViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Resumable uploads: announce a file (POST {name, size}), send its chunks in order (PATCH
    with Upload-Offset and the raw bytes), then name it in POST /api/recordings/ {uploads}.
    GET says where an upload stands, to resume after a dropped connection; DELETE cancels it."""

    serializer_class = UploadSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.uploads_for(self.request.user)

    def create(self, request: Request) -> Response:
        announced = UploadCreateSerializer(data=request.data, context={"request": request})
        announced.is_valid(raise_exception=True)
        try:
            upload = uploads.upload_create(owner=request.user, **announced.validated_data)
        except uploads.UploadRefused as refusal:
            return _refused(refusal)
        except quotas.QuotaExceeded as refusal:
            return Response({"detail": str(refusal)}, status=OVER_QUOTA_STATUS[refusal.limit])
        location = reverse("api:upload-detail", args=[upload.pk])
        return Response(
            UploadSerializer(upload).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location, "Upload-Offset": "0"},
        )

    def partial_update(self, request: Request, pk: str) -> Response:
        upload = self.get_object()
        if request.content_type.split(";")[0].strip() != "application/octet-stream":
            return Response(
                {"detail": _("Send the chunk's bytes as application/octet-stream.")},
                status=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            )
        offset = request.headers.get("Upload-Offset", "")
        if not offset.isdigit():
            raise ValidationError({"Upload-Offset": [_("Say where the chunk starts, in bytes.")]})
        try:
            # Django's request reads the body it holds (one chunk, in memory) piece by piece.
            upload = uploads.upload_append(upload=upload, offset=int(offset), body=request._request)
        except Upload.DoesNotExist:
            raise NotFound() from None
        except uploads.UploadRefused as refusal:
            return _refused(refusal)
        return Response(UploadSerializer(upload).data, headers={"Upload-Offset": upload.received})

    def perform_destroy(self, upload: Upload) -> None:
        uploads.upload_delete(upload=upload)


def _refused(refusal: uploads.UploadRefused) -> Response:
    if isinstance(refusal, uploads.OffsetMismatch):
        return Response(
            {"detail": str(refusal), "offset": refusal.offset},
            status=status.HTTP_409_CONFLICT,
            headers={"Upload-Offset": refusal.offset},
        )
    answer = {
        uploads.UploadTooLarge: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        uploads.UploadQuotaExceeded: status.HTTP_429_TOO_MANY_REQUESTS,
    }.get(type(refusal), status.HTTP_400_BAD_REQUEST)
    return Response({"detail": str(refusal)}, status=answer)


class JobViewSet(TranscriptEditing, viewsets.ReadOnlyModelViewSet):
    permission_classes = [IsAuthenticated, StewardOrReadOnly]

    def get_queryset(self):
        return selectors.jobs_for(self.request.user)

    def get_serializer_class(self):
        return JobSerializer if self.action == "list" else JobDetailSerializer

    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk: str) -> HttpResponse:
        job = self.get_object()
        fmt = request.query_params.get("format", "txt")
        if fmt not in FORMATS:
            raise ValidationError(
                {"format": [_("Choose one of: %(formats)s.") % {"formats": ", ".join(FORMATS)}]}
            )
        if job.status != JobStatus.SUCCEEDED:
            raise ValidationError(
                {
                    "detail": _("The job is %(status)s; no transcript to export.")
                    % {"status": job.status}
                }
            )
        export = export_job(job, fmt)
        response = HttpResponse(export.content, content_type=export.content_type)
        stem = job.recording.name.rsplit(".", 1)[0] or "transcript"
        response["Content-Disposition"] = content_disposition_header(
            True, f"{stem}.{export.extension}"
        )
        return response

    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        job = services.job_cancel(job=self.get_object())
        return Response(JobDetailSerializer(job, context={"request": request}).data)

    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        job = self.get_object()
        choices = RetryChoicesSerializer(data=request.data, context={"job": job})
        choices.is_valid(raise_exception=True)
        try:
            job = services.job_retry(job=job, by=request.user, choices=choices.validated_data)
        except ValueError as refusal:
            raise ValidationError(
                {"detail": _("Cannot retry: %(reason)s.") % {"reason": refusal}}
            ) from None
        return Response(JobDetailSerializer(job, context={"request": request}).data)


class SearchView(generics.ListAPIView):
    """The lines of the user's transcripts that contain ?q= (see selectors.transcript_matches)."""

    serializer_class = SearchHitSerializer

    def get_queryset(self):
        form = SearchForm(self.request.query_params)
        if not form.is_valid():
            raise ValidationError(form.errors)
        return selectors.transcript_matches(
            self.request.user, form.cleaned_data["q"], requested_workspace(self.request)
        )


class UsageView(APIView):
    """?workspace=personal|<team id>: what the workspace used this month and holds, against its
    limits. A team's members read it; anyone else is told there is no such workspace."""

    def get(self, request: Request) -> Response:
        workspace = requested_workspace(request)
        if workspace is None:
            raise ValidationError({"workspace": [_("Name one: personal or a team's id.")]})
        return Response(UsageSerializer(quotas.usage(workspace, request.user)).data)


class OptionsView(APIView):
    """What an upload may ask for: the enabled models and the language codes."""

    def get(self, request: Request) -> Response:
        return Response(
            {
                "models": settings.ASR_ENABLED_MODELS,
                "default_model": settings.ASR_MODEL,
                # native | prompt (a hint, Whisper) | null (the model ignores hotwords)
                "model_hotwords": {
                    model: model_hotword_support(model) for model in settings.ASR_ENABLED_MODELS
                },
                "languages": [{"code": c, "name": n} for c, n in language_choices()],
                # The codes each model can be told besides "auto"; null: any of `languages`.
                "model_languages": {
                    model: sorted(PRESET_LANGUAGES[model]) if model in PRESET_LANGUAGES else None
                    for model in settings.ASR_ENABLED_MODELS
                },
                # Per model: {"description", "speed_x"} (transcription.model_choice).
                "model_info": model_descriptions(),
                "max_upload_mb": settings.MAX_UPLOAD_MB,
                "max_audio_hours": settings.MAX_AUDIO_HOURS,
            }
        )


class ListStewardOrReadOnly(BasePermission):
    """A team's lists are read by its members and changed by its owners and admins."""

    message = LIST_STEWARDS_ONLY

    def has_object_permission(self, request: Request, view: APIView, obj: object) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return selectors.may_change_hotword_list(request.user, obj)


class HotwordListViewSet(viewsets.ModelViewSet):
    """Saved hotword lists: the user's own (`team` null), added to each new job of theirs, and
    their teams', added to each job of the team's recordings. Only active lists are added."""

    serializer_class = HotwordListSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    permission_classes = [IsAuthenticated, ListStewardOrReadOnly]

    def get_queryset(self):
        return selectors.hotword_lists_visible_to(self.request.user).order_by("team", "name")

    def perform_create(self, serializer: HotwordListSerializer) -> None:
        team = serializer.validated_data.get("team")
        if team is not None and not selectors.manages_team(self.request.user, team):
            raise PermissionDenied(LIST_STEWARDS_ONLY)
        serializer.save(owner=self.request.user)

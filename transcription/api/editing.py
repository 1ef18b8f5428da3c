"""The transcript editing API, mixed into JobViewSet: /api/jobs/{id}/transcript/, segments/,
speakers/, revisions/ and restore/. Reads as the job's readers, writes as those who may change
its recording (StewardOrReadOnly); the rules and the revisions are transcription.editing's."""

from collections.abc import Callable

from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from transcription import editing
from transcription.api.serializers import (
    RevisionSerializer,
    SegmentChangeSerializer,
    SegmentSplitSerializer,
    SpeakerMergeSerializer,
    SpeakerRenameSerializer,
    TranscriptChangeSerializer,
    TranscriptRestoreSerializer,
    TranscriptSerializer,
)

SEGMENT = r"segments/(?P<segment_id>[0-9]+)"
REFUSAL_STATUS = {
    editing.StaleVersion: status.HTTP_409_CONFLICT,
    editing.NotEditable: status.HTTP_409_CONFLICT,
    editing.NoSuchSegment: status.HTTP_404_NOT_FOUND,
    editing.EditRefused: status.HTTP_400_BAD_REQUEST,
}


class TranscriptEditing:
    """Each write answers the transcript as it now stands, with its new version."""

    @action(detail=True, methods=["get"])
    def transcript(self, request: Request, pk: str) -> Response:
        return Response(TranscriptSerializer(self.get_object()).data)

    @action(detail=True, methods=["patch"], url_path=SEGMENT, url_name="segment")
    def segment(self, request: Request, pk: str, segment_id: str) -> Response:
        return self._edit(editing.segment_update, SegmentChangeSerializer, segment_id=segment_id)

    @action(detail=True, methods=["post"], url_path=f"{SEGMENT}/split", url_name="segment-split")
    def split(self, request: Request, pk: str, segment_id: str) -> Response:
        return self._edit(editing.segment_split, SegmentSplitSerializer, segment_id=segment_id)

    @action(detail=True, methods=["post"], url_path=f"{SEGMENT}/join", url_name="segment-join")
    def join(self, request: Request, pk: str, segment_id: str) -> Response:
        return self._edit(editing.segment_join, TranscriptChangeSerializer, segment_id=segment_id)

    @action(detail=True, methods=["post"], url_path="speakers/rename", url_name="speaker-rename")
    def rename_speaker(self, request: Request, pk: str) -> Response:
        return self._edit(editing.speaker_rename, SpeakerRenameSerializer)

    @action(detail=True, methods=["post"], url_path="speakers/merge", url_name="speaker-merge")
    def merge_speakers(self, request: Request, pk: str) -> Response:
        return self._edit(editing.speakers_merge, SpeakerMergeSerializer)

    @action(detail=True, methods=["get"])
    def revisions(self, request: Request, pk: str) -> Response:
        revisions = self.get_object().revisions.select_related("author").order_by("-version")
        return Response(RevisionSerializer(revisions, many=True).data)

    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str) -> Response:
        return self._edit(editing.transcript_restore, TranscriptRestoreSerializer)

    def _edit(
        self,
        service: Callable[..., object],
        body: type[serializers.Serializer],
        **arguments: str,
    ) -> Response:
        job = self.get_object()
        change = body(data=self.request.data)
        change.is_valid(raise_exception=True)
        if "segment_id" in arguments:
            arguments["segment_id"] = int(arguments["segment_id"])
        try:
            job = service(job=job, author=self.request.user, **arguments, **change.validated_data)
        except editing.EditError as refusal:
            answer = {"detail": str(refusal)}
            if isinstance(refusal, editing.StaleVersion):
                answer.update(version=refusal.current, changes=refusal.changes)
            return Response(answer, status=REFUSAL_STATUS[type(refusal)])
        return Response(TranscriptSerializer(job).data)

from django.http import Http404
from rest_framework import generics, serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from operations import selectors
from transcription import queue
from transcription.models import Job
from transcription.selectors import PERSONAL


class WorkerListView(APIView):
    """The workers' statuses, for site staff: online first."""

    permission_classes = [IsAdminUser]

    def get(self, request: Request) -> Response:
        return Response(selectors.worker_list())


class WorkerDetailView(APIView):
    permission_classes = [IsAdminUser]

    def get(self, request: Request, name: str) -> Response:
        worker = selectors.worker_get(name)
        if worker is None:
            raise Http404
        return Response(worker)


# The queue, for site staff: what waits, in the order it runs (transcription.queue).


class QueuedJobSerializer(serializers.ModelSerializer):
    """A row of queue.waiting_jobs(); `eta_s` from the throughput the view measured once."""

    owner = serializers.CharField(source="owner.get_username")
    workspace = serializers.SerializerMethodField()
    audio_s = serializers.FloatField(source="recording.duration_s", allow_null=True)
    position = serializers.IntegerField()
    eta_s = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = ["id", "recording", "owner", "workspace", "model", "audio_s", "position",
                  "priority", "queued_at", "eta_s"]  # fmt: skip
        read_only_fields = fields

    def get_workspace(self, job: Job) -> str:
        team = job.recording.team
        return team.name if team else PERSONAL

    def get_eta_s(self, job: Job) -> float | None:
        return self.context["throughput"].seconds_for(job.audio_ahead_s)


class QueueView(generics.ListAPIView):
    """The waiting jobs in the order they will run, a page at a time, with the queue's totals:
    how many, how many hours of audio, and when it should drain at the measured throughput."""

    permission_classes = [IsAdminUser]
    serializer_class = QueuedJobSerializer

    def get_queryset(self):
        return queue.waiting_jobs().select_related("owner", "recording__team")

    def list(self, request: Request) -> Response:
        totals = queue.totals()
        page = self.paginate_queryset(self.get_queryset())
        context = {**self.get_serializer_context(), "throughput": totals.throughput}
        rows = self.get_serializer(page, many=True, context=context).data
        response = self.get_paginated_response(rows)
        response.data["totals"] = {
            "jobs": totals.jobs,
            "audio_hours": round(totals.audio_s / 3600, 4),
            "drain_eta_s": totals.drain_eta_s,
            "throughput_audio_s_per_s": totals.throughput.audio_s_per_s,
            "running_jobs": totals.throughput.running_jobs,
        }
        return response

from django.http import Http404
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from operations import selectors


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

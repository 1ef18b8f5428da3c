"""Pages: thin server-rendered shells; their data comes from the API through static/js."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import ensure_csrf_cookie

from transcription import selectors


@login_required
@ensure_csrf_cookie
def upload(request: HttpRequest) -> HttpResponse:
    return render(request, "transcription/upload.html")


@login_required
@ensure_csrf_cookie
def history(request: HttpRequest) -> HttpResponse:
    return render(request, "transcription/history.html")


@login_required
@ensure_csrf_cookie
def recording(request: HttpRequest, pk: int) -> HttpResponse:
    recording = get_object_or_404(selectors.recordings_for(request.user), pk=pk)
    # The prefetch in recordings_for orders jobs latest first.
    latest_job = next(iter(recording.jobs.all()), None)
    return render(
        request,
        "transcription/recording.html",
        {"recording": recording, "latest_job": latest_job},
    )

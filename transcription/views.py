"""Pages: thin server-rendered shells; their data comes from the API through static/js."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from transcription import selectors, services
from transcription.exports import FORMATS
from transcription.forms import HotwordListForm, RecordingMoveForm, SearchForm
from transcription.hotwords import LIST_STEWARDS_ONLY, hotwords_note
from transcription.models import HotwordList, Job, JobStatus, Recording
from transcription.workspaces import active_workspace, workspace_of

# The statuses as the pages name them (static/js/api.js says the same in the scripts).
STATUS_LABELS = {
    JobStatus.QUEUED: _("Queued"),
    JobStatus.RUNNING: _("Running"),
    JobStatus.SUCCEEDED: _("Done"),
    JobStatus.FAILED: _("Failed"),
    JobStatus.CANCELLED: _("Cancelled"),
}

SEARCH_PAGE_SIZE = 50


@login_required
@ensure_csrf_cookie
def upload(request: HttpRequest) -> HttpResponse:
    return render(request, "transcription/upload.html")


@login_required
@ensure_csrf_cookie
def history(request: HttpRequest) -> HttpResponse:
    context = {"statuses": STATUS_LABELS.items(), "export_formats": list(FORMATS)}
    return render(request, "transcription/history.html", context)


@login_required
@ensure_csrf_cookie
def recording(request: HttpRequest, pk: int) -> HttpResponse:
    recording = get_object_or_404(selectors.recordings_for(request.user), pk=pk)
    # The prefetch in recordings_for orders jobs latest first.
    latest_job = next(iter(recording.jobs.all()), None)
    return render(
        request,
        "transcription/recording.html",
        {
            "recording": recording,
            "latest_job": latest_job,
            "hotwords_note": hotwords_note(latest_job.model)
            if latest_job and latest_job.hotwords
            else "",
            "speakers_note": latest_job and _speakers_note(latest_job),
            "home": workspace_of(recording),
            "move_form": _move_form(request, recording),
            # Whoever may change the recording corrects its transcript; others only read it.
            "may_edit": selectors.recordings_managed_by(request.user)
            .filter(pk=recording.pk)
            .exists(),
        },
    )


def _speakers_note(job: Job) -> str:
    """What the job was asked about its speakers: "Speakers: identified (2 expected)"; nothing
    where it was not asked to identify them."""
    if not job.identify_speakers:
        return ""
    low, high = job.min_speakers, job.max_speakers
    if job.num_speakers:
        expected = _(" (%(count)s expected)") % {"count": job.num_speakers}
    elif low and high:
        expected = _(" (%(low)s to %(high)s expected)") % {"low": low, "high": high}
    elif low or high:
        expected = (
            _(" (at least %(low)s)") % {"low": low}
            if low
            else _(" (at most %(high)s)") % {"high": high}
        )
    else:
        expected = ""
    return _("Speakers: identified%(expected)s") % {"expected": expected}


def _move_form(request: HttpRequest, recording: Recording) -> RecordingMoveForm | None:
    """Offered to the uploader of a personal recording who is in a team to move it to."""
    if not selectors.may_move(request.user, recording):
        return None
    form = RecordingMoveForm(user=request.user)
    return form if form.fields["team"].queryset.exists() else None


@login_required
@require_POST
def recording_move(request: HttpRequest, pk: int) -> HttpResponse:
    recording = get_object_or_404(selectors.recordings_for(request.user), pk=pk)
    if not selectors.may_move(request.user, recording):
        raise PermissionDenied(
            _("Only its uploader moves a recording, out of their personal workspace.")
        )
    form = RecordingMoveForm(request.POST, user=request.user)
    if form.is_valid():
        team = form.cleaned_data["team"]
        services.recording_move(
            recording=recording, team=team, private=form.cleaned_data["private"]
        )
        messages.success(request, f"“{recording.name}” moved to Team: {team.name}.")
    else:
        for error in form.errors.values():
            messages.error(request, " ".join(error))
    return redirect("recording", pk=recording.pk)


@login_required
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    hits = None
    if form.is_valid():
        matches = selectors.transcript_matches(
            request.user, form.cleaned_data["q"], active_workspace(request).scope
        )
        hits = Paginator(matches, SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "transcription/search.html", {"form": form, "hits": hits})


@login_required
def hotwords(request: HttpRequest) -> HttpResponse:
    """The active workspace's lists: the user's own, or the team's, which only the team's owners
    and admins change; its other members read them."""
    workspace = active_workspace(request)
    team = workspace.team
    form = None
    if team is None or selectors.manages_team(request.user, team):
        form = HotwordListForm(request.POST or None, owner=request.user, team=team)
        if request.method == "POST" and form.is_valid():
            form.save()
            return redirect("hotwords")
    elif request.method == "POST":
        raise PermissionDenied(LIST_STEWARDS_ONLY)
    lists = selectors.hotword_lists_in(request.user, workspace.scope)
    return render(
        request,
        "transcription/hotwords.html",
        {"form": form, "lists": lists, "team": team},
    )


def _list_to_change(request: HttpRequest, pk: int) -> HotwordList:
    """A list the user sees, whichever workspace is active, if they may change it: one they do
    not see is not found (404), one of their team's they may only read is refused (403)."""
    saved = get_object_or_404(selectors.hotword_lists_visible_to(request.user), pk=pk)
    if not selectors.may_change_hotword_list(request.user, saved):
        raise PermissionDenied(LIST_STEWARDS_ONLY)
    return saved


@login_required
@require_POST
def hotword_list_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    saved = _list_to_change(request, pk)
    saved.active = not saved.active
    saved.save(update_fields=["active"])
    return redirect("hotwords")


@login_required
@require_POST
def hotword_list_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _list_to_change(request, pk).delete()
    return redirect("hotwords")

"""The workers page: a server-rendered shell; its data comes from the API and the workers
socket through static/js/workers.js."""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from operations.workers import ONLINE_INTERVALS


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous visitors go to the login page like on every page; users who are not staff
    are refused (403), as the workers API refuses them."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("The workers page is for site staff.")
        return view(request, *args, **kwargs)

    return wrapper


@staff_required
@ensure_csrf_cookie
def workers(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "operations/workers.html",
        {"offline_intervals": ONLINE_INTERVALS, "models": settings.ASR_ENABLED_MODELS},
    )

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext

from accounts.forms import NotificationsForm
from accounts.models import Preferences


class LoginView(auth_views.LoginView):
    """Django's login page, offering the password reset only where e-mail can deliver it, and
    sign-up only where it is open."""

    def get_context_data(self, **kwargs: object) -> dict:
        return {
            **super().get_context_data(**kwargs),
            "password_reset_enabled": settings.PASSWORD_RESET_ENABLED,
            "signup_enabled": settings.ALLOW_SIGNUP,
        }


def requires_email(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A password reset page exists only where EMAIL_URL lets the portal send its link."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not settings.PASSWORD_RESET_ENABLED:
            raise Http404("Password reset needs e-mail, which this portal does not send.")
        return view(request, *args, **kwargs)

    return wrapped


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    """Job-end e-mails: the run length from which the user wants one (none by default)."""
    preferences, _created = Preferences.objects.get_or_create(user=request.user)
    form = NotificationsForm(
        request.POST if request.method == "POST" else None, instance=preferences
    )
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, gettext("Notification settings saved."))
        return redirect("notifications")
    return render(request, "accounts/notifications.html", {"form": form})

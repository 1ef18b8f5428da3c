from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from accounts.forms import NotificationsForm, PreferencesForm
from accounts.models import Preferences
from accounts.preferences import preferences_of, preferences_update


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
    form = NotificationsForm(request.POST or None, instance=preferences)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Notification settings saved."))
        return redirect("notifications")
    return render(request, "accounts/notifications.html", {"form": form})


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """The header's switch: Django's set_language (a cookie, for anyone), and for a signed-in
    user their preference too, so the choice follows them to other browsers."""
    response = set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and translation.check_for_language(language):
        preferences_update(user=request.user, language=language)
    return response


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    form = PreferencesForm(request.POST or None, instance=preferences_of(request.user))
    if request.method == "POST" and form.is_valid():
        preferences_update(user=request.user, **form.cleaned_data)
        language = form.cleaned_data["language"]
        if language:
            translation.activate(language)
        messages.success(request, _("Preferences saved."))
        response = redirect("preferences")
        # This browser follows the choice at once; a blank one hands it back to Accept-Language.
        if language:
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language)
        else:
            response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
        return response
    return render(request, "accounts/preferences.html", {"form": form})

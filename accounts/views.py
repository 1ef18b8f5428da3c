from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse


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

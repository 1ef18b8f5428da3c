"""Django's account pages; the password reset ones only answer where e-mail is configured."""

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.team_views import signup
from accounts.views import LoginView, notifications, preferences, requires_email

urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Answers 404 unless settings.ALLOW_SIGNUP.
    path("signup/", signup, name="signup"),
    path("notifications/", notifications, name="notifications"),
    # The user's language and time zone (blank: the browser's).
    path("preferences/", preferences, name="preferences"),
    path("password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path(
        "password_reset/",
        requires_email(auth_views.PasswordResetView.as_view()),
        name="password_reset",
    ),
    path(
        "password_reset/done/",
        requires_email(auth_views.PasswordResetDoneView.as_view()),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        requires_email(auth_views.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        requires_email(auth_views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
]

from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from accounts.views import language_set
from operations.metrics import metrics_view
from portal import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    # The pages' scripts translate through gettext() from here (loaded before them in base.html).
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    # The header's language switch (Django's set_language, remembered for a signed-in user).
    path("i18n/setlang/", language_set, name="set_language"),
    path("api/", include("transcription.api.urls")),
    path("", include("accounts.team_urls")),
    path("", include("operations.urls")),
    path("", include("transcription.urls")),
]

handler500 = "portal.errors.server_error"

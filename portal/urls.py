from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("transcription.api.urls")),
    path("", include("transcription.urls")),
]

handler500 = "portal.errors.server_error"

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from accounts.api.views import TokenView
from transcription.api.views import (
    HotwordListViewSet,
    JobViewSet,
    OptionsView,
    RecordingViewSet,
    SearchView,
    UploadViewSet,
    UsageView,
)

app_name = "api"

router = DefaultRouter()
router.register("recordings", RecordingViewSet, basename="recording")
router.register("jobs", JobViewSet, basename="job")
router.register("uploads", UploadViewSet, basename="upload")
router.register("hotword-lists", HotwordListViewSet, basename="hotword-list")

urlpatterns = [
    path("token/", TokenView.as_view(), name="token"),
    path("options/", OptionsView.as_view(), name="options"),
    path("search/", SearchView.as_view(), name="search"),
    path("usage/", UsageView.as_view(), name="usage"),
    *router.urls,
    path("", include("accounts.api.urls")),
    path("", include("operations.api_urls")),
]

from django.urls import path

from operations import views

urlpatterns = [path("workers/", views.workers, name="workers")]

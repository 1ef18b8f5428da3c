"""The teams API, under /api/ in the api namespace."""

urlpatterns: list = []

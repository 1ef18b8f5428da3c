"""The team pages and the invitation page."""

urlpatterns: list = []

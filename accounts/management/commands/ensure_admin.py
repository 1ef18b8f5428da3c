import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the first administrator from ADMIN_USERNAME/ADMIN_PASSWORD "
        "(a password is generated and printed when unset)."
    )

    def handle(self, *args, **options) -> None:
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            self.stdout.write("An administrator already exists.")
            return
        password = settings.ADMIN_PASSWORD or secrets.token_urlsafe(12)
        users.objects.create_superuser(
            username=settings.ADMIN_USERNAME, email=settings.ADMIN_EMAIL, password=password
        )
        shown = "(from ADMIN_PASSWORD)" if settings.ADMIN_PASSWORD else password
        self.stdout.write(
            self.style.SUCCESS(f"Administrator created: {settings.ADMIN_USERNAME} / {shown}")
        )

from django.conf import settings
from django.utils import timezone
from rest_framework.authtoken.models import Token


def token_is_expired(token: Token) -> bool:
    return token.created < timezone.now() - settings.TOKEN_TTL

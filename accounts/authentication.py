from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from accounts.selectors import token_is_expired


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, refusing a token issued more than TOKEN_TTL_HOURS ago."""

    def authenticate_credentials(self, key: str) -> tuple:
        user, token = super().authenticate_credentials(key)
        if token_is_expired(token):
            raise AuthenticationFailed(_("Token expired. POST /api/token/ gives a new one."))
        return user, token

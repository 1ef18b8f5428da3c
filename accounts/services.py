from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from rest_framework.authtoken.models import Token

from accounts.selectors import token_is_expired


@transaction.atomic
def token_obtain(*, user: AbstractBaseUser) -> Token:
    """The user's API token: the current one while it is valid, else a new one replacing it."""
    token, created = Token.objects.select_for_update().get_or_create(user=user)
    if not created and token_is_expired(token):
        token.delete()
        token = Token.objects.create(user=user)
    return token


def token_revoke(*, user: AbstractBaseUser) -> None:
    Token.objects.filter(user=user).delete()

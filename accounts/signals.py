from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.services import token_revoke


@receiver(user_logged_out)
def revoke_token_on_logout(
    sender: type, request: HttpRequest, user: AbstractBaseUser | None, **kwargs: object
) -> None:
    """Logging out ends API access too: a token copied from this account stops working."""
    if user is not None:
        token_revoke(user=user)

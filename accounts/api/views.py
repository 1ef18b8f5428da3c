from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.lockout import LOCKOUT_MESSAGE, cooloff_seconds
from accounts.services import token_obtain
from accounts.throttling import ScopedRateThrottle


class TokenView(ObtainAuthToken):
    """POST {username, password} -> {"token": ...}. Throttled per address (scope "token"), and
    locked per username and address by django-axes after repeated failures (429)."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    def post(self, request: Request, *args: object, **kwargs: object) -> Response:
        serializer = self.get_serializer(data=request.data)
        if not serializer.is_valid():
            # Axes flags the request it refused, or whose failure reached the limit.
            if getattr(request, "axes_locked_out", False):
                raise Throttled(wait=cooloff_seconds(), detail=LOCKOUT_MESSAGE)
            raise ValidationError(serializer.errors)
        token = token_obtain(user=serializer.validated_data["user"])
        return Response({"token": token.key})

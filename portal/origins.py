"""Which pages may open a websocket: the portal's own origin (scheme, host and port, as the
browser reached it, through Nginx too) and CSRF_TRUSTED_ORIGINS, as Django's CSRF check decides
for forms. Channels' AllowedHostsOriginValidator compares the host only, so a page served on
another port or scheme of an allowed host would pass it."""

from asgiref.typing import ASGIApplication, ASGIReceiveCallable, ASGISendCallable
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.http.request import split_domain_port, validate_host


def _header(scope: dict, name: bytes) -> str:
    values = [value for key, value in scope.get("headers", []) if key == name]
    return values[-1].decode("latin1") if values else ""


def _is_secure(scope: dict) -> bool:
    if scope.get("scheme") in ("wss", "https"):
        return True
    if not settings.SECURE_PROXY_SSL_HEADER:
        return False
    meta_name, secure_value = settings.SECURE_PROXY_SSL_HEADER
    header = meta_name.removeprefix("HTTP_").replace("_", "-").lower().encode()
    return _header(scope, header).split(",")[0].strip() == secure_value


def own_origin(scope: dict) -> str | None:
    """The origin of the page that belongs with this request (its Host header, when allowed)."""
    host = _header(scope, b"host")
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    return f"{'https' if _is_secure(scope) else 'http'}://{host}"


class SameOriginValidator:
    """ASGI middleware refusing a websocket whose Origin is neither the portal's own nor trusted;
    Channels' OriginValidator compares scheme, host and port."""

    def __init__(self, application: ASGIApplication) -> None:
        self.application = application

    async def __call__(
        self, scope: dict, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        # Django writes a subdomain wildcard "https://*.example.com"; Channels "https://.example.com".
        allowed = [origin.replace("://*.", "://.") for origin in settings.CSRF_TRUSTED_ORIGINS]
        if origin := own_origin(scope):
            allowed.append(origin)
        return await OriginValidator(self.application, allowed)(scope, receive, send)

"""Checking requests: the bearer token of a request and the Origin of a WebSocket.

The token files themselves are :mod:`mpi_render.tokens` (the site job reads the same files).
Nothing here prints or logs a token.
"""
from __future__ import annotations

import hmac


def check_bearer(header: str | None, token: str) -> int | None:
    """Check an ``Authorization`` header against ``token`` (constant-time).

    Returns:
        None when it carries the right token, 401 when there is no Bearer credential,
        403 when the credential is wrong.
    """
    scheme, _, credential = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return 401
    if not hmac.compare_digest(credential.strip().encode(), token.encode()):
        return 403
    return None


def origin_allowed(origin: str, host: str | None, forwarded_host: str | None,
                   allowed_origins: frozenset[str]) -> bool:
    """Whether a WebSocket ``Origin`` may connect.

    Accepted: the page's own origin as the browser sees it (Origin host equals the first
    ``X-Forwarded-Host`` value or ``Host``, so a Host-rewriting proxy still works), an origin in
    ``allowed_origins`` (lower-case ``scheme://host[:port]``), or anything when it holds ``*``.
    """
    if "*" in allowed_origins:
        return True
    origin = origin.strip().lower().rstrip("/")
    if origin in allowed_origins:
        return True
    _, sep, netloc = origin.partition("://")
    page_hosts = {h.strip().lower() for h in ((forwarded_host or "").split(",")[0], host or "")}
    return bool(sep) and netloc in page_hosts - {""}

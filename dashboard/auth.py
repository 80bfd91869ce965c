"""The bearer token: loading or generating the token file, and checking request headers.

The token never leaves this module except as the value passed to :func:`make_app`; nothing here
prints or logs it.
"""
from __future__ import annotations

import hmac
import os
import secrets
import stat
from pathlib import Path

TOKEN_BYTES = 32


class TokenFileError(ValueError):
    """The token file cannot be used; the message says how to fix it."""


def load_or_create_token(path: str | os.PathLike) -> str:
    """Read the token from ``path`` (content stripped), or create the file with a new token.

    A new file is created with mode 0600 atomically (``O_EXCL``), so no other user can read it
    even for a moment.

    Raises:
        TokenFileError: the file is readable or writable by group/others, empty, or unreadable.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_token(path)
    except OSError as exc:
        raise TokenFileError(f"cannot create token file {path}: {exc.strerror}") from None
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token


def _read_token(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise TokenFileError(f"token file {path} is accessible by group/others (mode "
                                 f"{stat.S_IMODE(mode):04o}); run: chmod 600 {path}")
        token = path.read_text().strip()
    except OSError as exc:
        raise TokenFileError(f"cannot read token file {path}: {exc.strerror}") from None
    if not token:
        raise TokenFileError(f"token file {path} is empty; write a token into it or delete it "
                             "to have one generated")
    return token


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

"""Token files, the secrets both sides read: the ingest token (and, later, the control token).

A token is the file's content with surrounding whitespace stripped. The dashboard creates a
missing file with mode 0600; the dashboard, a site job and the relay all refuse a file that
group or others can access.
Nothing here prints or logs a token.
"""
from __future__ import annotations

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


def check_private(path: str | os.PathLike, what: str = "token file") -> None:
    """Refuse a secret's file (``what``: "token file", "TLS key file") that group/others can access.

    Raises:
        TokenFileError: the mode allows group/others anything (the message says ``chmod 600``),
            or the file cannot be examined.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise TokenFileError(f"cannot read {what} {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise TokenFileError(f"{what} {path} is accessible by group/others (mode "
                             f"{stat.S_IMODE(mode):04o}); run: chmod 600 {path}")


def _read_token(path: Path) -> str:
    check_private(path)
    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise TokenFileError(f"cannot read token file {path}: {exc.strerror}") from None
    if not token:
        raise TokenFileError(f"token file {path} is empty; write a token into it or delete it "
                             "to have one generated")
    return token


def read_token(path: str | os.PathLike) -> str:
    """The token in an existing file ``path`` (whitespace stripped), for a client of the API
    (a site job, the relay), refused like the dashboard refuses its own: same rule, same message.

    Raises:
        TokenFileError: the file is accessible by group/others, unreadable or empty.
    """
    check_private(path)
    try:
        token = Path(path).read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenFileError(f"cannot read token file {path}: {exc}") from None
    if not token:
        raise TokenFileError(f"token file {path} is empty")
    return token

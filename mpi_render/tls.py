"""TLS contexts both sides build: the dashboard's and the relay's listening side, every client's.

* :func:`server_context` loads a certificate chain and its private key for HTTPS/WSS. The key
  file must not be readable by group or others (the rule of the token files,
  :func:`mpi_render.tokens.check_private`), and TLS 1.2 is the oldest version offered.
* :func:`client_context` verifies the server against a CA file (a private CA: then only it)
  or, without one, the system's CAs, checks the host name, and offers TLS 1.2 or later. There
  is no switch to turn verification off: a certificate that cannot be verified is an error,
  never a downgrade.
* :func:`certificate_problem` tells a certificate failure (a verdict: exit 2, never retried)
  from a transient transport error (retried), and names the problem
  (``ssl.SSLCertVerificationError.verify_message``: "certificate has expired", ...);
  :func:`handshake_problem` does the same for the other handshake failures that no retry can
  mend: a server that does not speak TLS (an ``https://`` URL for an ``http://`` server), no
  protocol version or cipher in common.

Nothing here logs or prints a key.
"""
from __future__ import annotations

import os
import socket
import ssl

from .tokens import TokenFileError, check_private

MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2
CA_FILE_ENV = "MPI_RENDER_CA_FILE"


class TLSFileError(ValueError):
    """A certificate, key or CA file cannot be used; the message says which and why."""


def server_context(certfile: str | os.PathLike, keyfile: str | os.PathLike) -> ssl.SSLContext:
    """A server-side context for ``certfile`` (PEM chain, leaf first) and ``keyfile`` (PEM).

    Raises:
        TLSFileError: the key file is accessible by group/others or unreadable, a file is not
            PEM, or the key does not match the certificate.
    """
    try:
        check_private(keyfile, "TLS key file")
    except TokenFileError as exc:
        raise TLSFileError(str(exc)) from None
    _check_readable(certfile, "certificate file")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = MINIMUM_VERSION
    try:
        context.load_cert_chain(certfile, keyfile)
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise TLSFileError(f"key {keyfile} is not the key of certificate {certfile}") from None
        raise TLSFileError(f"cannot use certificate {certfile} with key {keyfile}: both must be "
                           f"PEM ({_ssl_reason(exc)})") from None
    except OSError as exc:
        raise TLSFileError(f"cannot read certificate {certfile} or key {keyfile}: "
                           f"{exc.strerror or exc}") from None
    return context


def client_context(ca_file: str | os.PathLike | None = None) -> ssl.SSLContext:
    """A verifying client context: only ``ca_file``'s CAs (PEM) if given, else the system's.

    Raises:
        TLSFileError: ``ca_file`` is unreadable or holds no PEM certificate.
    """
    if ca_file is not None:
        _check_readable(ca_file, "CA file")
    try:  # with a CA file, only its CAs are trusted (the system's are not loaded)
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=None if ca_file is None else os.fspath(ca_file))
    except ssl.SSLError as exc:
        raise TLSFileError(f"CA file {ca_file} holds no usable PEM certificate: "
                           f"{_ssl_reason(exc)}") from None
    context.minimum_version = MINIMUM_VERSION
    return context


def certificate_problem(exc: BaseException) -> str | None:
    """What is wrong with the server's certificate, if ``exc`` (or its cause) is that; else None.

    A verification failure is a verdict about the server, not a network hiccup: callers stop
    instead of retrying.
    """
    for error in _causes(exc):
        if isinstance(error, ssl.SSLCertVerificationError):
            return error.verify_message or error.reason or str(error)
    return None


def handshake_problem(exc: BaseException) -> str | None:
    """What ended a TLS handshake for good, other than the certificate, if ``exc`` (or its cause)
    is that; else None.

    An ``ssl.SSLError`` is such a verdict unless it is a certificate failure
    (:func:`certificate_problem`) or the connection ending under the handshake (EOF, a reset:
    the server went away, which is an outage and retried). Callers pass only errors of the
    handshake: a TLS error in an established connection is a transport error.

    >>> handshake_problem(ssl.SSLEOFError(8, "EOF occurred in violation of protocol")) is None
    True
    """
    for error in _causes(exc):
        if isinstance(error, (ssl.SSLCertVerificationError, ssl.SSLEOFError,
                              ssl.SSLZeroReturnError, ssl.SSLSyscallError)):
            return None
        if isinstance(error, ssl.SSLError):
            reason = getattr(error, "reason", None)  # OpenSSL's name, set by the ssl module
            text = reason.lower().replace("_", " ") if reason else error.strerror or str(error)
            if reason == "WRONG_VERSION_NUMBER":  # the answer was not a TLS record
                return _not_tls(text)
            return f"the TLS handshake failed ({text})"
    return None


def _not_tls(evidence: str) -> str:
    """The problem of a server that does not speak TLS (:func:`handshake_problem`,
    :func:`plain_http_problem`)."""
    return f"the server does not speak TLS ({evidence}): is it an http:// server?"


def plain_http_problem(host: str, port: int, timeout_s: float) -> str | None:
    """The problem, named as :func:`handshake_problem` names it, if ``host:port`` answers a
    plain HTTP request (``HEAD /``, nothing secret in it); else None.

    For a handshake that failed without a verdict (a timeout, the connection closed): a server
    that answers plain HTTP will never speak TLS, so an ``https://`` URL for it is a mistake.
    Any error is None (the server is down or slow: an outage).
    """
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(f"HEAD / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode("ascii", "replace"))
            answered = sock.recv(5) == b"HTTP/"
    except OSError:
        return None
    return _not_tls("it answers plain HTTP") if answered else None


def _causes(exc: BaseException | None):
    """``exc`` and the exceptions it was raised from or during, innermost last, each once."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _check_readable(path: str | os.PathLike, what: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise TLSFileError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _ssl_reason(exc: ssl.SSLError) -> str:
    return exc.reason or exc.strerror or str(exc)

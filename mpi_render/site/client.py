"""A small stdlib HTTP client for the dashboard API, with one kept-alive connection.

The poster sends many batches to one host, so it reuses a single ``http.client`` connection
(keep-alive) and reconnects transparently after the server or a proxy closed it. Paths are
relative to the dashboard root URL, which may carry a proxy prefix (``https://host/p/dash/``).

HTTPS is verified with one context per client (:func:`mpi_render.tls.client_context`: the CA
file if given, else the system's CAs, host name checked, TLS 1.2+), made here and nowhere else in
the site job. A TLS connection that cannot work raises :class:`TLSRefused`, which is deliberately
*not* one of :data:`TRANSPORT_ERRORS`: it is a verdict about the configuration, so nobody
retries it, and nothing was sent (the handshake ends before the request). That is a certificate
that fails verification (:class:`CertificateRejected`), a handshake that fails for another
lasting reason (an ``https://`` URL for a server that speaks plain HTTP), or the relay's 502
saying that *its* TLS connection to the dashboard failed so (``UPSTREAM_TLS_FIELD`` in the
body; a 502 without it is an outage, retried like any 5xx).
"""
from __future__ import annotations

import http.client
import json
import logging
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from ..tls import certificate_problem, client_context, handshake_problem, plain_http_problem

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT_S = 30.0
# For https, TCP connect and TLS handshake take at most this long, whatever the request's own
# timeout (a long poll's is for the answer): a plain HTTP server behind an https:// URL waits for
# the rest of the "request" instead of answering, and that must not take a long poll's time to
# find out.
CONNECT_TIMEOUT_S = 5.0
# Errors that mean "no usable answer from the server": worth retrying, never a verdict.
TRANSPORT_ERRORS = (OSError, http.client.HTTPException)
# The relay's 502 names a TLS verdict about its upstream (the dashboard) in this body field.
UPSTREAM_TLS_FIELD = "upstream_tls"


class TLSRefused(Exception):
    """A TLS connection to the dashboard cannot work; the message names the problem.

    Not an ``OSError``: it must not be caught as a transport error and retried.
    """


class CertificateRejected(TLSRefused):
    """The dashboard's TLS certificate failed verification (untrusted, expired, wrong name)."""


def check_dashboard_url(url: str) -> str:
    """Return the dashboard root URL with a trailing slash.

    Raises:
        ValueError: not an ``http://`` or ``https://`` URL with a host.
    """
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"dashboard URL must be http:// or https:// with a host, got {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"dashboard URL must not have a query or fragment, got {url!r}")
    return url if url.endswith("/") else url + "/"


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: ``status`` and the decoded JSON body (``None`` when not JSON)."""

    status: int
    body: object
    retry_after_s: float | None = None

    @property
    def error(self) -> str:
        """The server's ``{"error": ...}`` text, or a short description of the answer."""
        if isinstance(self.body, dict) and "error" in self.body:
            return str(self.body["error"])
        return f"HTTP {self.status}"


class DashboardClient:
    """Requests to one dashboard over one reusable connection (not thread-safe: one user).

    Args:
        url: dashboard root URL (``check_dashboard_url``).
        token: bearer token for run creation and ingest (``None`` for read-only use).
        timeout_s: socket timeout of every request, in seconds.
        ca_file: PEM file of the CA(s) that verify an ``https://`` dashboard (default: the
            system's CAs); unused for ``http://``.

    Raises:
        mpi_render.tls.TLSFileError: ``ca_file`` is unreadable or not PEM (https only).
    """

    def __init__(self, url: str, token: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 ca_file: str | None = None):
        self.url = check_dashboard_url(url)
        parts = urlsplit(self.url)
        self._scheme, self._host, self._port = parts.scheme, parts.hostname, parts.port
        self._where = f"{self._host}:{self._port or (443 if self._scheme == 'https' else 80)}"
        self._prefix = parts.path
        self.token = token
        self.timeout_s = timeout_s
        self._conn: http.client.HTTPConnection | None = None
        self._tls = client_context(ca_file) if self._scheme == "https" else None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._tls is not None:
                self._conn = http.client.HTTPSConnection(self._host, self._port,
                                                         timeout=self.timeout_s, context=self._tls)
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port,
                                                        timeout=self.timeout_s)
        return self._conn

    def clone(self) -> DashboardClient:
        """A client of the same dashboard, token, timeout and TLS trust with a connection of
        its own (for another thread: a client is not thread-safe)."""
        twin = DashboardClient.__new__(DashboardClient)
        twin.__dict__.update(self.__dict__, _conn=None)
        return twin

    def close(self) -> None:
        """Close the kept-alive connection (a later request opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body: bytes | dict | None = None,
                content_type: str | None = None, timeout_s: float | None = None) -> Answer:
        """Send one request; return the answer whatever its status.

        A request on a kept-alive connection that the peer had already closed is retried once
        on a fresh connection (that is a stale socket, not a failure of the server).

        Raises:
            OSError, http.client.HTTPException: no answer (refused, reset, timed out).
            TLSRefused: the TLS handshake failed for good (:class:`CertificateRejected`: the
                server's certificate failed verification), here or, by the relay's word,
                between the relay and the dashboard.
        """
        headers = {"Accept": "application/json"}
        if isinstance(body, dict):
            body, content_type = json.dumps(body).encode(), "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        for attempt in (1, 2):
            reused = self._conn is not None
            conn = self._connection()
            conn.timeout = timeout_s or self.timeout_s
            if conn.sock is not None:
                conn.sock.settimeout(conn.timeout)
            try:
                if conn.sock is None:
                    self._connect(conn)
                conn.request(method, self._prefix + path, body=body, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if reused and attempt == 1:
                    continue
                raise
            except TRANSPORT_ERRORS:
                self.close()
                raise
            if resp.getheader("Connection", "").lower() == "close":
                self.close()
            answer = Answer(resp.status, _json_or_none(raw), _retry_after(resp))
            if answer.status == 502 and isinstance(answer.body, dict) \
                    and answer.body.get(UPSTREAM_TLS_FIELD):
                raise TLSRefused(f"the relay {self._where} cannot reach the dashboard "
                                 f"over TLS: {answer.body[UPSTREAM_TLS_FIELD]}; nothing was stored")
            return answer
        raise AssertionError("unreachable")  # the loop returns or raises

    def _connect(self, conn: http.client.HTTPConnection) -> None:
        """Open ``conn``: TCP, and for https the TLS handshake, whose lasting failures (and only
        those: an error in an established connection is a transport error) raise TLSRefused."""
        request_timeout_s = conn.timeout
        if self._tls is not None:
            conn.timeout = min(request_timeout_s, CONNECT_TIMEOUT_S)
        try:
            conn.connect()
        except OSError as exc:
            handshaking = self._tls is not None and conn.sock is not None  # TCP was up
            self.close()
            if handshaking:
                self._tls_verdict(exc)
            raise
        conn.timeout = request_timeout_s
        conn.sock.settimeout(request_timeout_s)

    def _tls_verdict(self, exc: OSError) -> None:
        """Raise TLSRefused if the failed handshake ``exc`` is a verdict; else return."""
        problem = certificate_problem(exc)
        if problem:
            raise CertificateRejected(
                f"the TLS certificate of {self._where} was rejected: {problem}; nothing was sent "
                f"(a private CA: give its certificate with --ca-file)") from None
        problem = handshake_problem(exc) or plain_http_problem(self._host, self._port or 443,
                                                                CONNECT_TIMEOUT_S)
        if problem:
            raise TLSRefused(f"TLS with {self._where} failed: {problem}; nothing was sent") from None

    def put_run(self, run_id: str, run_json: dict, timeout_s: float | None = None) -> Answer:
        """``PUT api/runs/{id}``: create the run or confirm its config (201/200, 409 differs)."""
        return self.request("PUT", f"api/runs/{run_id}", run_json, timeout_s=timeout_s)

    def get_run(self, run_id: str, timeout_s: float | None = None) -> Answer:
        """``GET api/runs/{id}``: config, per-site progress and the missing tiles."""
        return self.request("GET", f"api/runs/{run_id}", timeout_s=timeout_s)

    def post_batch(self, run_id: str, content_type: str, body: bytes,
                   timeout_s: float | None = None) -> Answer:
        """``POST api/runs/{id}/tiles`` with a multipart batch body."""
        return self.request("POST", f"api/runs/{run_id}/tiles", body, content_type,
                            timeout_s=timeout_s)

    def claim(self, run_id: str, site: str, max_tiles: int,
              timeout_s: float | None = None) -> Answer:
        """``POST api/runs/{id}/claims``: lease up to ``max_tiles`` unstored tiles to ``site``."""
        return self.request("POST", f"api/runs/{run_id}/claims",
                            {"site": site, "max_tiles": max_tiles}, timeout_s=timeout_s)

    def work(self, site: str, wait_s: float = 0.0, timeout_s: float | None = None) -> Answer:
        """``GET api/work?site=S&wait_s=W``: the runs ``site`` could claim tiles of, newest first.

        The dashboard holds the request up to ``wait_s`` seconds while the list is empty, so the
        socket timeout is at least ``wait_s`` plus ``timeout_s`` (default this client's).
        """
        return self.request("GET", f"api/work?site={quote(site)}&wait_s={wait_s:g}",
                            timeout_s=wait_s + (timeout_s or self.timeout_s))

    def cancel(self, run_id: str, timeout_s: float | None = None) -> Answer:
        """``POST api/runs/{id}/cancel``: stop handing out the run's tiles (idempotent)."""
        return self.request("POST", f"api/runs/{run_id}/cancel", b"", "application/json",
                            timeout_s=timeout_s)


def is_cancelled(answer: Answer) -> bool:
    """Whether the dashboard answered that the run was cancelled (410)."""
    return answer.status == 410


def _json_or_none(raw: bytes):
    try:
        return json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        return None


def _retry_after(resp: http.client.HTTPResponse) -> float | None:
    value = resp.getheader("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP-date: ignore it and use our own backoff

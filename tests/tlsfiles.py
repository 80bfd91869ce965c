"""A private CA for the TLS tests, made with openssl by the project's own mpi_render.launch.certs.

One CA and one server certificate for 127.0.0.1/localhost per session (the ``private_ca``
fixture); a test that needs a broken certificate (expired, another host name, another CA)
issues it with :meth:`PrivateCA.issue` or makes a second CA.
"""
from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import dataclass
from pathlib import Path

from mpi_render.launch import certs
from mpi_render.tls import client_context


def unverified_context() -> ssl.SSLContext:
    """A client context that accepts any certificate: only for a test's own reads of a server
    whose certificate the test broke on purpose (the code under test never gets one)."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


@dataclass(frozen=True)
class PrivateCA:
    """A CA (``authority``) and its server certificate for 127.0.0.1 (``server``)."""

    authority: certs.Authority
    server: certs.ServerCert

    @property
    def ca_file(self) -> Path:
        return self.authority.cert

    @classmethod
    def create(cls, directory: Path) -> PrivateCA:
        authority = certs.make_authority(directory / "ca")
        return cls(authority, certs.issue(authority, directory))

    def issue(self, directory: Path, stem: str, **kw) -> certs.ServerCert:
        return certs.issue(self.authority, directory, stem, **kw)

    def expired(self, directory: Path) -> certs.ServerCert:
        """A certificate for 127.0.0.1 whose validity ended yesterday (it began three days ago)."""
        now = dt.datetime.now(dt.timezone.utc)
        return self.issue(directory, "expired", not_before=now - dt.timedelta(days=3),
                          not_after=now - dt.timedelta(days=1))

    def with_server(self, server: certs.ServerCert) -> PrivateCA:
        """The same CA serving another of its certificates."""
        return PrivateCA(self.authority, server)

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts exactly this CA (the project's own client context)."""
        return client_context(self.ca_file)

    def dashboard_args(self) -> tuple[str, ...]:
        return ("--certfile", str(self.server.cert), "--keyfile", str(self.server.key))

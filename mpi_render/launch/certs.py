"""A private certificate authority for one run: a CA and server certificates, made with openssl.

``mpi-render-demo --tls`` and the tests use it; a deployment with a real certificate does not
(docs/TLS.md). It drives Debian's ``openssl`` command (``apt-get install openssl``) because
Python's ``ssl`` module cannot make certificates and the ``cryptography`` package is not a
dependency. Server certificates are signed with ``openssl ca``, the one openssl 3.0 command that
takes explicit validity dates, so a test can make a certificate that has already expired.

Keys are EC P-256. Every private key is generated to a pipe and written by this module to a new
file created with mode 0600 (``O_EXCL``), so it is never readable by others, not even for a moment.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

LOCAL_NAMES = ("127.0.0.1", "localhost")
CA_DAYS = 30
SERVER_DAYS = 7
OPENSSL_TIMEOUT_S = 30
_DATE = "%Y%m%d%H%M%SZ"  # openssl ca -startdate/-enddate (GeneralizedTime)


class CertError(RuntimeError):
    """openssl is missing or refused; the message carries its output."""


@dataclass(frozen=True)
class Authority:
    """A private CA: ``cert`` (PEM, what clients trust: ``--ca-file``) and ``key`` (0600)."""

    directory: Path
    cert: Path
    key: Path


@dataclass(frozen=True)
class ServerCert:
    """A server certificate (``cert``, PEM) and its private key (``key``, PEM, mode 0600)."""

    cert: Path
    key: Path


def _openssl(*args: str, cwd: Path | None = None) -> bytes:
    exe = shutil.which("openssl")
    if exe is None:
        raise CertError("the openssl command is missing: apt-get install -y openssl")
    proc = subprocess.run([exe, *args], capture_output=True, cwd=cwd, timeout=OPENSSL_TIMEOUT_S)
    if proc.returncode != 0:
        raise CertError(f"openssl {args[0]} failed ({proc.returncode}): "
                        f"{proc.stderr.decode(errors='replace').strip()[-1500:]}")
    return proc.stdout


def _new_key(path: Path) -> Path:
    """Generate a P-256 key and write it to a new 0600 file ``path`` (an existing one is refused)."""
    pem = _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return path


def make_authority(directory: str | os.PathLike, name: str = "mpi-render private CA",
                   days: int = CA_DAYS) -> Authority:
    """Create a CA in ``directory`` (created; mode 0700): ``ca.pem`` and ``ca.key``.

    Raises:
        CertError: openssl is missing or failed; FileExistsError: ``ca.key`` exists already.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = _new_key(directory / "ca.key")
    cert = directory / "ca.pem"
    _openssl("req", "-x509", "-new", "-key", str(key), "-sha256", "-days", str(days),
             "-subj", f"/CN={name}", "-out", str(cert),
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-addext", "subjectKeyIdentifier=hash")
    return Authority(directory, cert, key)


def _alt_names(names: Sequence[str]) -> str:
    entries = []
    for name in names:
        try:
            entries.append(f"IP:{ipaddress.ip_address(name)}")
        except ValueError:
            entries.append(f"DNS:{name}")
    return ",".join(entries)


def _ca_config(ca: Authority, names: Sequence[str]) -> Path:
    """The ``openssl ca`` configuration (database in ``ca.directory/issued``, one leaf profile)."""
    issued = ca.directory / "issued"
    issued.mkdir(exist_ok=True)
    (issued / "index.txt").touch()
    config = issued / "openssl-ca.cnf"
    config.write_text(
        "[ca]\ndefault_ca = local\n"
        f"[local]\ndatabase = {issued / 'index.txt'}\nnew_certs_dir = {issued}\n"
        "default_md = sha256\npolicy = any_name\nunique_subject = no\nrand_serial = yes\n"
        "x509_extensions = server\n"
        "[any_name]\ncommonName = supplied\n"
        "[server]\nbasicConstraints = critical,CA:FALSE\n"
        "keyUsage = critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage = serverAuth\nsubjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid:always\n"
        f"subjectAltName = {_alt_names(names)}\n")
    return config


def issue(ca: Authority, directory: str | os.PathLike, stem: str = "server",
          names: Sequence[str] = LOCAL_NAMES, not_before: dt.datetime | None = None,
          not_after: dt.datetime | None = None) -> ServerCert:
    """Sign a server certificate for ``names`` (IP addresses and DNS names) with ``ca``.

    Args:
        ca: the signing authority.
        directory: where ``{stem}.pem`` and ``{stem}.key`` (0600) are written.
        names: the subject alternative names; the first is also the common name.
        not_before, not_after: validity (UTC); default from an hour ago for ``SERVER_DAYS``.
            Both in the past give an expired certificate.

    Raises:
        CertError: openssl is missing or failed; FileExistsError: the key file exists.
    """
    if not names:
        raise ValueError("a server certificate needs at least one name")
    now = dt.datetime.now(dt.timezone.utc)
    not_before = not_before or now - dt.timedelta(hours=1)
    not_after = not_after or now + dt.timedelta(days=SERVER_DAYS)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = _new_key(directory / f"{stem}.key")
    csr = _openssl("req", "-new", "-key", str(key), "-subj", f"/CN={names[0]}")
    request = directory / f"{stem}.csr"
    request.write_bytes(csr)
    cert = directory / f"{stem}.pem"
    _openssl("ca", "-batch", "-notext", "-config", str(_ca_config(ca, names)),
             "-cert", str(ca.cert), "-keyfile", str(ca.key), "-in", str(request),
             "-out", str(cert), "-startdate", not_before.strftime(_DATE),
             "-enddate", not_after.strftime(_DATE))
    request.unlink()
    return ServerCert(cert, key)


def spki_sha256(cert: str | os.PathLike) -> str:
    """Base64 SHA-256 of the certificate's SubjectPublicKeyInfo (a pin of exactly one key).

    This is the value Chromium's ``--ignore-certificate-errors-spki-list`` takes.
    """
    pem = _openssl("x509", "-in", str(cert), "-noout", "-pubkey").decode()
    body = "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))
    return base64.b64encode(hashlib.sha256(base64.b64decode(body)).digest()).decode()

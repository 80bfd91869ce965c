"""mpi_render.tls: the contexts both sides build, and how a certificate failure is recognised."""
from __future__ import annotations

import ssl

import pytest

from mpi_render.tls import TLSFileError, certificate_problem, client_context, server_context
from mpi_render.tokens import TokenFileError, check_private


def test_the_server_context_offers_tls_1_2_or_later(private_ca):
    context = server_context(private_ca.server.cert, private_ca.server.key)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize("with_ca", [True, False], ids=["ca-file", "system-cas"])
def test_the_client_context_verifies_against_the_ca_file_alone_or_the_system_cas(private_ca, with_ca):
    context = client_context(private_ca.ca_file if with_ca else None)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    private = ((("commonName", "mpi-render private CA"),),)
    subjects = [ca["subject"] for ca in context.get_ca_certs()]
    assert (subjects == [private]) if with_ca else (private not in subjects)


def test_a_ca_file_without_a_certificate_is_refused(tmp_path):
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    with pytest.raises(TLSFileError, match="holds no usable PEM certificate"):
        client_context(empty)
    with pytest.raises(TLSFileError, match="cannot read CA file"):
        client_context(tmp_path / "absent.pem")


def test_certificate_problem_names_the_verification_failure_even_when_wrapped():
    failure = ssl.SSLCertVerificationError(1, "certificate verify failed")
    failure.verify_message = "certificate has expired"
    try:
        try:
            raise failure
        except ssl.SSLError as exc:
            raise OSError("wrapped") from exc
    except OSError as wrapped:
        assert certificate_problem(wrapped) == "certificate has expired"
    assert certificate_problem(ConnectionRefusedError(111, "refused")) is None
    assert certificate_problem(ssl.SSLError(1, "wrong version number")) is None


@pytest.mark.parametrize("mode, refused", [(0o600, False), (0o400, False), (0o640, True),
                                           (0o604, True)])
def test_check_private_refuses_any_access_by_group_or_others(tmp_path, mode, refused):
    path = tmp_path / "secret"
    path.write_text("x")
    path.chmod(mode)
    if refused:
        with pytest.raises(TokenFileError, match=f"mode {mode:04o}.*chmod 600"):
            check_private(path, "TLS key file")
    else:
        check_private(path, "TLS key file")

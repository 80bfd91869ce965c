"""The chaos proxy itself: forwards, cuts, black-holes and heals (so fault tests can trust it)."""
from __future__ import annotations

import socket
import threading

import pytest
from reliability.chaos_proxy import ChaosProxy

pytestmark = pytest.mark.reliability


@pytest.fixture
def echo_port():
    """A loopback TCP server that echoes each connection's bytes back (one thread per client)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve_one(conn: socket.socket) -> None:
        with conn:
            try:
                while data := conn.recv(4096):
                    conn.sendall(data)
            except OSError:
                pass  # reset by the proxy's cut(): expected

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    server.close()


def _echo(port: int, payload: bytes, timeout_s: float = 2) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(payload)
        return sock.recv(4096)


def _is_closed(sock: socket.socket) -> bool:
    """True when the peer closed or reset ``sock`` (reads give EOF or an error)."""
    try:
        sock.sendall(b"ping")
        return sock.recv(16) == b""
    except OSError:
        return True


def _new_connection_is_closed(port: int) -> bool:
    """True when a new connection is refused or reset (even during connect) or closed."""
    try:
        fresh = socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError:
        return True
    with fresh:
        return _is_closed(fresh)


def test_forwards_cuts_and_heals(echo_port):
    with ChaosProxy(echo_port) as proxy:
        assert _echo(proxy.port, b"hello") == b"hello"
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as held:
            held.sendall(b"x")
            assert held.recv(16) == b"x"
            proxy.cut()
            assert _is_closed(held), "an open connection survived cut()"
        assert _new_connection_is_closed(proxy.port), "a new connection was forwarded while cut"
        assert proxy.refused >= 1
        proxy.heal()
        assert _echo(proxy.port, b"back") == b"back"


def test_blackhole_forwards_nothing_until_healed(echo_port):
    with ChaosProxy(echo_port) as proxy:
        proxy.blackhole()
        with pytest.raises(socket.timeout):
            _echo(proxy.port, b"lost", timeout_s=0.5)
        proxy.heal()
        assert _echo(proxy.port, b"found") == b"found"

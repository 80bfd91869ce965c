"""A TCP proxy on 127.0.0.1 that breaks the network on demand, for fault tests.

The proxy forwards every connection to ``127.0.0.1:target_port``; a test drives it from its own
thread while site jobs talk through it. Plain threads (one acceptor, two pumps per connection)
rather than asyncio: the few connections of a poster do not need more, and sockets closed from
another thread need no event-loop teardown.

Modes (switched at any time):

- ``heal()``: forward normally.
- ``cut()``: reset every open connection at once, and reset new ones as soon as they are
  accepted (a link that drops: the client sees ECONNRESET or a closed connection).
- ``blackhole()``: hold new connections open but forward nothing (a link that silently loses
  packets: the client only notices through its own timeout).

Only loopback addresses are used; :meth:`stop` closes the listener and every connection.
"""
from __future__ import annotations

import socket
import struct
import threading

CHUNK_BYTES = 64 * 1024


class ChaosProxy:
    """A fault-injecting TCP proxy.

    Attributes: ``port`` (listening), ``url``, ``connections`` (accepted so far), ``refused``
    (reset on accept while cut).
    """

    def __init__(self, target_port: int, path: str = "/"):
        self.target_port = target_port
        self.path = path
        self.connections = 0
        self.refused = 0
        self.mode = "forward"
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True,
                                          name="chaos-proxy")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self) -> ChaosProxy:
        self._acceptor.start()
        return self

    def stop(self) -> None:
        self.mode = "stopped"
        # shutdown() wakes the blocked accept(); close() alone does not on Linux.
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        self._acceptor.join(5)
        self._reset_all()

    def heal(self) -> None:
        """Forward normally again."""
        self.mode = "forward"

    def cut(self) -> None:
        """Reset every open connection now and every new one until :meth:`heal`."""
        self.mode = "cut"
        self._reset_all()

    def blackhole(self) -> None:
        """Forward nothing on new connections (they stay open) until :meth:`heal` or :meth:`cut`."""
        self.mode = "blackhole"

    def __enter__(self) -> ChaosProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        while self.mode != "stopped":
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            if self.mode in ("cut", "stopped"):
                self.refused += 1
                _reset(client)
                continue
            self._track(client)
            if self.mode == "blackhole":
                continue  # held open, reset by cut() or stop()
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                self._reset_all_of(client)
                continue
            upstream.settimeout(None)
            self._track(upstream)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(CHUNK_BYTES):
                dst.sendall(chunk)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            self._reset_all_of(src, dst)

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)

    def _reset_all_of(self, *socks: socket.socket) -> None:
        with self._lock:
            self._open.difference_update(socks)
        for sock in socks:
            _reset(sock)

    def _reset_all(self) -> None:
        with self._lock:
            socks, self._open = list(self._open), set()
        for sock in socks:
            _reset(sock)


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a broken link would, not with a polite FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)  # wakes a pump blocked in recv(); sends nothing
    except OSError:
        pass
    sock.close()

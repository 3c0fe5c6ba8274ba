"""A TCP proxy in front of one server, for a network partition on one machine: ``cut()`` stops forwarding in
both directions (connections stay open and go silent, as when a link fails), ``heal()`` forwards again."""

from __future__ import annotations

import contextlib
import select
import socket
import threading

from tests.helpers.servers import free_port


class TcpProxy:
    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.target = (host, target_port)
        self.port = free_port()
        self._forwarding = threading.Event()
        self._forwarding.set()
        self._stop = threading.Event()
        self._listener = socket.create_server((host, self.port))
        self._threads: list[threading.Thread] = []
        self.dropped_bytes = 0

    def start(self) -> TcpProxy:
        t = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def cut(self) -> None:
        self._forwarding.clear()

    def heal(self) -> None:
        self._forwarding.set()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._forwarding.is_set():  # the link is down: the connection is never answered
                threading.Thread(target=self._hold, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=3)
            except OSError:
                client.close()
                continue
            t = threading.Thread(target=self._pump, args=(client, upstream), daemon=True)
            t.start()
            self._threads.append(t)

    def _hold(self, client: socket.socket) -> None:
        while not self._stop.is_set() and not self._forwarding.wait(0.2):
            pass
        client.close()  # healed: the client reconnects

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        pair = {a: b, b: a}
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([a, b], [], [], 0.2)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    if self._forwarding.is_set():
                        pair[s].sendall(data)
                    else:
                        self.dropped_bytes += len(data)  # lost on the cut link
        except OSError:
            return
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()

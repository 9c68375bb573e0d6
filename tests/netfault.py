"""A TCP link between a service and RabbitMQ that a test can break, as a broker shutting down does.

When RabbitMQ stops it tells each client (connection.close) and closes the socket without waiting for the
answer. The client then fails at whatever it writes next: the close-ok, or an ack a worker sends at that
moment. `broker_hangs_up` does that on demand for the connections that go through this link.
"""
import socket
import struct
from urllib.parse import quote, urlsplit, urlunsplit

import eventlet
import requests


class CuttableLink:
    def __init__(self, target_uri: str):
        parts = urlsplit(target_uri)
        self.target = (parts.hostname, parts.port or 5672)
        self.vhost = parts.path.lstrip("/")
        self.listener = eventlet.listen(("127.0.0.1", 0))
        port = self.listener.getsockname()[1]
        self.uri = urlunsplit(parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{port}"))
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.hanging_up: list[tuple[socket.socket, socket.socket]] = []  # dropped after the broker's next frame
        self.on_hang_up = lambda: None  # called right after a connection is dropped, before anything else runs
        self._accepting = eventlet.spawn(self._accept)

    def _accept(self):
        while True:
            client, _ = self.listener.accept()
            upstream = eventlet.connect(self.target)
            pair = (client, upstream)
            self.pairs.append(pair)
            eventlet.spawn(self._pump, client, upstream, None)
            eventlet.spawn(self._pump, upstream, client, pair)

    def _pump(self, source, sink, pair):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
                if pair is not None and pair in self.hanging_up:
                    self._reset(pair)
                    self.on_hang_up()
                    return
        except (OSError, EOFError):  # EOFError: eventlet's word for "closed under a waiting recv"
            pass

    def _reset(self, pair) -> None:
        """Close both ends with RST, as a host that has gone away."""
        for sock in pair:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
            except OSError:
                pass
        if pair in self.pairs:
            self.pairs.remove(pair)

    def broker_hangs_up(self, management_api: str, within: float = 15.0) -> None:
        """The broker closes each connection of this link, and the link drops as soon as that is said."""
        self.hanging_up = list(self.pairs)  # a reconnection made meanwhile is let through
        api = management_api.rstrip("/")
        listing = f"{api}/api/vhosts/{quote(self.vhost, safe='')}/connections"
        with eventlet.Timeout(within):
            while any(pair in self.pairs for pair in self.hanging_up):
                # the management API lists a connection only once its first statistics are in
                ours = {upstream.getsockname()[1] for pair in self.hanging_up if pair in self.pairs
                        for upstream in pair[1:]}
                for conn in requests.get(listing, timeout=10).json():
                    if conn.get("peer_port") in ours:
                        requests.delete(f"{api}/api/connections/{quote(conn['name'], safe='')}", timeout=10)
                eventlet.sleep(0.2)
        self.hanging_up = []

    def node_goes_away(self) -> None:
        """A cluster node that is gone for good: every connection reset, and nothing answers any more."""
        self.close()

    def close(self) -> None:
        self._accepting.kill()
        for pair in list(self.pairs):
            self._reset(pair)
        self.listener.close()

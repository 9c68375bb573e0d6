"""A DNS server on loopback for tests whose answers the test changes (webhook receivers, identity providers)."""
import socket
import threading

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest


class DnsServer:
    """A DNS server on loopback (UDP) answering A records from `answers`: name -> list of addresses,
    consumed one per query, the last one repeated. Unknown names: NXDOMAIN."""

    def __init__(self):
        self.answers: dict[str, list[str]] = {}
        self.queries: list[str] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                data, client = self.sock.recvfrom(4096)
            except (OSError, EOFError):  # closed at the end of the test
                return
            query = dns.message.from_wire(data)
            question = query.question[0]
            name = question.name.to_text().rstrip(".").lower()
            response = dns.message.make_response(query)
            if name not in self.answers:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.A:
                self.queries.append(name)
                queue = self.answers[name]
                address = queue.pop(0) if len(queue) > 1 else queue[0]
                response.answer.append(dns.rrset.from_text(question.name, 1, "IN", "A", address))
            self.sock.sendto(response.to_wire(), client)

    def close(self):
        self.sock.close()


@pytest.fixture
def dns_server():
    server = DnsServer()
    yield server
    server.close()

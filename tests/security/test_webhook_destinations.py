"""Issue #14, item 7: webhooks are no way into the platform's network, and one slow receiver
delays nobody else.

A subscription used to accept loopback, private and link-local addresses, internal ports and
`user:pass@` URLs, and the delivery log returned what the internal service answered; deliveries
were sequential POSTs with a per-read timeout, so a receiver answering one byte a second held every
university's deliveries. Against notify running with a real RabbitMQ, real HTTP receivers on
loopback (let through by WEBHOOK_ALLOW_HOSTS=127.0.0.5 only) and a real DNS server over UDP
whose answers the tests change.
"""
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import eventlet
import requests

from common.events import make_event
from tests.conftest import free_port, wait_until
from tests.dns_server import dns_server  # noqa: F401  (fixture)
from tests.integration.test_notify_service import key_events, publish, smtp, story_submitted  # noqa: F401

ALLOWED = "127.0.0.5"  # the only loopback address the allow-list names; 127.0.0.1 stays refused
TOTAL_S = 4.0


def start_notify(make_config, start_service, sqlite_url, smtp, tmp_path, **settings):  # noqa: F811
    from common.db import Store
    from services.notify.service import NotifyService

    config = make_config("notify", DATABASE_URL=sqlite_url, MAIL_URL=f"smtp://127.0.0.1:{smtp.port}",
                         WEBHOOK_ALLOW_HOSTS=ALLOWED, WEBHOOK_TIMEOUT_S=TOTAL_S, **settings)
    start_service(NotifyService, config)
    publish(config["AMQP_URI"], key_events("seu", "university", "东南大学", "sk_seu_hooks"),
            key_events("wust", "university", "武汉科技大学", "sk_wust_hooks"))
    base = f"http://{config['WEB_SERVER_ADDRESS']}/api/v1/webhooks"
    # the key copies arrive by event: wait until the API knows them
    wait_until(lambda: requests.get(base, headers=SEU, timeout=10).status_code == 200
               and requests.get(base, headers=WUST, timeout=10).status_code == 200, what="the key copies")
    return {"base": base, "amqp": config["AMQP_URI"], "store": Store(sqlite_url)}


SEU = {"Authorization": "Bearer sk_seu_hooks"}
WUST = {"Authorization": "Bearer sk_wust_hooks"}


class Receiver:
    """A portal's endpoint. `trickle`: answer one byte a second. Counts requests in flight."""

    def __init__(self, host=ALLOWED, port=None, trickle=False, tls=None):
        self.received, self.in_flight, self.trickle, self.server_names, self.hosts = [], 0, trickle, [], []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                with outer.lock:
                    outer.in_flight += 1
                try:
                    outer.hosts.append(self.headers["Host"])
                    body = self.rfile.read(int(self.headers["Content-Length"]))
                    outer.received.append((time.monotonic(), self.headers["X-Siyige-Delivery"], body))
                    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                    if not outer.trickle:
                        self.wfile.write(answer)
                        return
                    for byte in answer + b" internal secret " * 4:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(1)
                except OSError:
                    pass  # the platform hung up: what it should do
                finally:
                    with outer.lock:
                        outer.in_flight -= 1

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port or free_port()), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/hooks"
        if tls is not None:  # (certificate, key): HTTPS, noting the name each client asked for (SNI)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def subscribe(notify, url, key=SEU):
    return requests.post(notify["base"], json={"url": url, "event_types": ["submission_submitted"]},
                         headers=key, timeout=10)


BAD_DESTINATIONS = [
    ("http://127.0.0.1:8002/api/v1/messages", "webhook_destination_not_public"),  # loopback v4, an internal port
    ("http://127.0.0.1/", "webhook_destination_not_public"),
    ("http://[::1]:5672/", "webhook_destination_not_public"),  # loopback v6
    ("http://0.0.0.0:15672/api/overview", "webhook_destination_not_public"),
    ("http://10.0.0.1/", "webhook_destination_not_public"),
    ("http://172.16.0.1/", "webhook_destination_not_public"),
    ("http://172.31.255.254/", "webhook_destination_not_public"),
    ("http://192.168.1.1/", "webhook_destination_not_public"),
    ("http://169.254.169.254/latest/meta-data/", "webhook_destination_not_public"),
    ("http://[fc00::1]/", "webhook_destination_not_public"),
    ("http://[fd12:3456::1]/", "webhook_destination_not_public"),
    ("http://[fe80::1]/", "webhook_destination_not_public"),
    ("http://[::ffff:127.0.0.1]/", "webhook_destination_not_public"),  # IPv4-mapped IPv6
    ("http://[::ffff:a00:1]/", "webhook_destination_not_public"),
    ("http://2130706433/", "webhook_ip_form_refused"),  # 127.0.0.1 as a decimal integer
    ("http://0177.0.0.1/", "webhook_ip_form_refused"),  # octal
    ("http://0x7f.0.0.1/", "webhook_ip_form_refused"),  # hexadecimal
    ("http://127.1/", "webhook_ip_form_refused"),
    ("http://localhost:8002/", "webhook_destination_not_public"),  # a name that resolves to loopback
    ("http://loopback.seu.test/", "webhook_destination_not_public"),  # the same, through DNS
    ("http://user:pass@portal.seu.test/", "webhook_userinfo_refused"),
    ("http://portal.seu.test@127.0.0.1/", "webhook_userinfo_refused"),
    ("http://portal.seu.test:22/", "webhook_port_refused"),
    ("http://nowhere.seu.test/", "webhook_host_unresolved"),
    ("file:///etc/passwd", "invalid_url"),
]


def test_every_class_of_bad_destination_is_refused_with_a_clear_error(make_config, start_service, sqlite_url, smtp,  # noqa: F811
                                                                      tmp_path, dns_server):
    # names go through the test's DNS server; it answers localhost as resolvers do (RFC 6761), and
    # tests/unit/test_destinations.py asks the system's resolver about localhost too
    dns_server.answers.update({"localhost": ["127.0.0.1"], "loopback.seu.test": ["127.0.0.1"],
                               "portal.seu.test": ["202.119.32.7"]})
    notify = start_notify(make_config, start_service, sqlite_url, smtp, tmp_path, WEBHOOK_DNS=dns_server.address)
    for url, code in BAD_DESTINATIONS:
        r = subscribe(notify, url)
        assert r.status_code == 422, (url, r.status_code, r.text)
        error = r.json()["error"]
        assert (error["code"], error["field"]) == (code, "url"), (url, error)
        assert "公网" in error["expected"] and not error["message"].isascii(), error
    assert requests.get(notify["base"], headers=SEU, timeout=10).json()["items"] == []
    # without a key nothing about the body is checked or said: 401 first, whatever was sent
    for body in ({"data": "x", "headers": {"Content-Type": "text/plain"}}, {"json": {"url": "http://127.0.0.1/"}}):
        r = requests.post(notify["base"], timeout=10, **body)
        assert r.status_code == 401, (body, r.status_code, r.text)
    # what the allow-list names goes through, on any port
    receiver = Receiver()
    try:
        assert subscribe(notify, receiver.url).status_code == 201
    finally:
        receiver.close()


def test_a_name_that_turns_private_after_subscribing_is_refused_at_delivery(make_config, start_service, sqlite_url,  # noqa: F811
                                                                           smtp, tmp_path, dns_server):
    notify = start_notify(make_config, start_service, sqlite_url, smtp, tmp_path, WEBHOOK_DNS=dns_server.address)
    dns_server.answers["portal.seu.test"] = ["202.119.32.7"]  # public when the portal subscribes
    sub = subscribe(notify, "http://portal.seu.test/hooks").json()
    dns_server.answers["portal.seu.test"] = ["127.0.0.1"]  # loopback when the delivery is due
    publish(notify["amqp"], story_submitted())
    attempt = wait_until(lambda: [d for d in requests.get(f"{notify['base']}/{sub['id']}/deliveries", headers=SEU,
                                                          timeout=10).json()["items"] if d["attempts"]],
                         timeout=20, what="the delivery attempt")[0]
    assert attempt["state"] == "pending" and attempt["last_status"] is None
    assert attempt["last_error"].startswith("未投递") and "非公网" in attempt["last_error"]
    assert "127.0.0.1" not in attempt["last_error"]


def test_the_delivery_goes_to_the_address_that_was_checked_not_a_second_resolution(
        make_config, start_service, sqlite_url, smtp, tmp_path, dns_server):  # noqa: F811
    notify = start_notify(make_config, start_service, sqlite_url, smtp, tmp_path, WEBHOOK_DNS=dns_server.address)
    portal = Receiver(ALLOWED)
    port = int(portal.url.rsplit(":", 1)[1].split("/")[0])
    internal = Receiver("127.0.0.1", port)  # what a second resolution would reach
    try:
        # the subscription's check and the delivery's check see the allowed address; any later
        # resolution of the name would give loopback
        dns_server.answers["rebind.seu.test"] = [ALLOWED, ALLOWED, "127.0.0.1"]
        sub = subscribe(notify, f"http://rebind.seu.test:{port}/hooks")
        assert sub.status_code == 201, sub.text
        publish(notify["amqp"], story_submitted())
        wait_until(lambda: portal.received, timeout=20, what="the delivery to the checked address")
        eventlet.sleep(1)
        assert internal.received == [] and dns_server.queries.count("rebind.seu.test") == 2
    finally:
        portal.close()
        internal.close()


def test_a_trickling_receiver_is_cut_at_the_total_limit_while_another_university_is_served(
        make_config, start_service, sqlite_url, smtp, tmp_path):  # noqa: F811
    notify = start_notify(make_config, start_service, sqlite_url, smtp, tmp_path)
    slow, fast = Receiver(trickle=True), Receiver()
    try:
        seu = subscribe(notify, slow.url, SEU).json()
        assert subscribe(notify, fast.url, WUST).status_code == 201
        # three of SEU's works first, then one of WUST's
        publish(notify["amqp"], *[story_submitted(org_id=f"o-{n}", receipt=f"SEU-{n}") for n in range(3)])
        wait_until(lambda: slow.received, timeout=20, what="SEU's receiver to start trickling")
        published = time.monotonic()
        publish(notify["amqp"], make_event("submission_submitted", "wust", {
            **story_submitted().data, "submission_id": "s-wust", "receipt_no": "WUST-1", "campaign_id": "x"}))
        wait_until(lambda: fast.received, timeout=20, what="WUST's delivery")
        waited = fast.received[0][0] - published
        # WUST's delivery arrived while SEU's receiver was still trickling its first answer ...
        assert slow.in_flight > 0
        assert waited < 3.0, f"WUST waited {waited:.1f} s behind SEU's slow receiver"

        # ... and SEU's attempts end at the total limit, with a summary, never the receiver's bytes
        def attempts():
            return [d for d in requests.get(f"{notify['base']}/{seu['id']}/deliveries", headers=SEU,
                                            timeout=10).json()["items"] if d["attempts"]]

        ended = wait_until(lambda: a if len(a := attempts()) == 3 else None, timeout=30,
                           what="SEU's three attempts")
        assert all(d["last_status"] is None and d["last_error"].startswith("超时") for d in ended)
        assert not any("secret" in (d["last_error"] or "") for d in ended)
        # two at once to one receiver (the second began before the first was cut), the third only
        # when one of them was (WEBHOOK_PER_DESTINATION)
        started = [t for t, _, _ in slow.received]
        assert started[1] - started[0] < TOTAL_S - 1.0, started
        assert TOTAL_S - 0.5 <= started[2] - started[0] <= TOTAL_S + 2.0, started
    finally:
        slow.close()
        fast.close()


def test_https_goes_to_the_checked_address_with_the_name_for_sni_and_the_certificate(
        make_config, start_service, sqlite_url, smtp, tmp_path, dns_server, monkeypatch):  # noqa: F811
    # a certificate for portal.seu.test that this test's process trusts (OpenSSL reads SSL_CERT_FILE)
    cert, key = tmp_path / "portal.pem", tmp_path / "portal.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=portal.seu.test", "-addext", "subjectAltName=DNS:portal.seu.test",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    notify = start_notify(make_config, start_service, sqlite_url, smtp, tmp_path, WEBHOOK_DNS=dns_server.address)
    portal = Receiver(tls=(str(cert), str(key)))
    dns_server.answers.update({"portal.seu.test": [ALLOWED], "imposter.seu.test": [ALLOWED]})
    try:
        good = subscribe(notify, f"https://portal.seu.test:{portal.port}/hooks").json()
        wrong = subscribe(notify, f"https://imposter.seu.test:{portal.port}/hooks").json()
        publish(notify["amqp"], story_submitted())
        wait_until(lambda: portal.received, timeout=20, what="the HTTPS delivery")
        # SNI is the name, though we dialled the address (both subscriptions deliver at once, in either order)
        assert "portal.seu.test" in portal.server_names
        assert set(portal.server_names) <= {"portal.seu.test", "imposter.seu.test"}, portal.server_names
        assert portal.hosts == [f"portal.seu.test:{portal.port}"]

        def attempted(sub):
            return [d for d in requests.get(f"{notify['base']}/{sub['id']}/deliveries", headers=SEU,
                                            timeout=10).json()["items"] if d["attempts"]]

        assert wait_until(lambda: attempted(good), what="the good attempt")[0]["state"] == "delivered"
        refused = wait_until(lambda: attempted(wrong), what="the imposter's attempt")[0]
        assert refused["last_status"] is None and refused["last_error"].startswith("TLS 证书校验失败")
        assert len(portal.received) == 1  # the certificate for another name was never sent the delivery
    finally:
        portal.close()

"""Notify's nameko dependencies: the mail server with its templates, where webhooks may go, and the pages."""
from __future__ import annotations

from datetime import timedelta

from nameko.extensions import DependencyProvider

from common import destinations
from services.notify import delivery, mail
from services.notify.mailer import Mailer, sender_address


class MailerProvider(DependencyProvider):
    def setup(self):
        cfg = self.container.config
        self.mailer = Mailer(cfg["MAIL_URL"])
        self.sender = sender_address(cfg["MAIL_FROM"])  # a bad MAIL_FROM stops the start, not every message
        self.templates = mail.Templates(cfg.get("TEMPLATE_DIR") or None)

    def get_dependency(self, worker_ctx):
        return self


class WebhookSender(DependencyProvider):
    """Where webhooks may go (WEBHOOK_ALLOW_HOSTS, WEBHOOK_DNS) and the deliveries in flight."""

    def setup(self):
        cfg = self.container.config
        self.policy = destinations.Policy.from_setting(cfg.get("WEBHOOK_ALLOW_HOSTS"))
        self.resolve = destinations.resolver_from_setting(cfg.get("WEBHOOK_DNS"))
        self.total_s = float(cfg.get("WEBHOOK_TIMEOUT_S", 10))
        # a claimed delivery is left alone this long; its attempt ends within total_s
        self.lease = timedelta(seconds=self.total_s + 30)
        self.flights = delivery.Flights(int(cfg.get("WEBHOOK_CONCURRENCY", 20)),
                                        int(cfg.get("WEBHOOK_PER_DESTINATION", 2)),
                                        int(cfg.get("WEBHOOK_PER_UNIVERSITY", 5)))

    def check(self, url: str) -> destinations.Target:
        return destinations.check(url, self.policy, self.resolve)

    def stop(self):
        self.flights.stop()  # a delivery cut here is tried again when its claim's lease ends

    def kill(self):
        self.flights.stop()

    def get_dependency(self, worker_ctx):
        return self

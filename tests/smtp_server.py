"""A real SMTP server for the tests (aiosmtpd), run in its own process:

    python -m aiosmtpd -n -l 127.0.0.1:PORT -c tests.smtp_server.Recorder MAILDIR

It stores every message it accepts in MAILDIR and refuses recipients whose
address starts with "bounce" with a permanent 550, like a mailbox that does
not exist.
"""
from aiosmtpd.handlers import Mailbox


class Recorder(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("bounce"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

"""A real SMTP server in-process (aiosmtpd) that keeps what it receives, for tests.

Messages are parsed with the standard library's ``email`` package. Addresses can be
refused for good (550) or for now (451), and the server can drop the connection in the
middle of a chosen message to imitate a network failure.
"""

from __future__ import annotations

import email
import socket
import threading
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def to(self) -> str:
        return self.rcpt_tos[0]

    def header(self, name: str) -> str:
        return str(self.message[name] or "")

    def part(self, subtype: str) -> str:
        found = self.message.get_body(preferencelist=(subtype,))
        return found.get_content() if found is not None else ""

    @property
    def html(self) -> str:
        return self.part("html")

    @property
    def text(self) -> str:
        return self.part("plain")


@dataclass
class Recorder:
    messages: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    refuse_for_now: set[str] = field(default_factory=set)
    # Close the connection while receiving the data of the message to this address.
    drop_on: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        if address in self.refuse_for_now:
            return "451 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if set(envelope.rcpt_tos) & self.drop_on:
            server.transport.close()
            return "421 4.3.0 Connection dropped"
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
        self.refuse.clear()
        self.refuse_for_now.clear()
        self.drop_on.clear()

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.rcpt_tos]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    def __init__(self) -> None:
        self.recorder = Recorder()
        self.port = free_port()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

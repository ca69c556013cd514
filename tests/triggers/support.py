"""Real receivers for trigger tests: an HTTP server that verifies every Standard Webhooks
signature with the ``standardwebhooks`` package, and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import json
import threading
import time
from collections import deque
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from standardwebhooks import Webhook

from tests.conftest import free_port


class Receiver:
    """Collects webhooks at ``url``; answers from ``answers`` (status, headers) in turn,
    200 once they run out.  ``bad`` holds every request whose signature failed."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.bad: list[str] = []
        self.answers: deque[tuple[int, dict[str, str]]] = deque()
        self.delay = 0.0  # seconds each answer takes (to be caught mid-way)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, extra = 200, {}
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.lock:
                    try:
                        assert receiver.secret is not None
                        data = Webhook(receiver.secret).verify(body, headers)
                    except Exception as exc:  # a bad signature, recorded and refused
                        receiver.bad.append(f"{exc}: {headers}")
                        status = 400
                    else:
                        if receiver.answers:
                            status, extra = receiver.answers.popleft()
                        if status == 200:
                            receiver.received.append((headers["webhook-id"], data))
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.server: ThreadingHTTPServer | None = None
        self.Handler = Handler

    def start(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self.Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def ids(self) -> list[str]:
        with self.lock:
            return [msg_id for msg_id, _ in self.received]


class Mailbox:
    """An SMTP server (aiosmtpd) on a free port; ``messages`` holds what it was sent.  With
    ``login`` (user, password) it demands AUTH and refuses other credentials (535)."""

    def __init__(self, login: tuple[str, str] | None = None) -> None:
        self.messages: list[Message] = []
        self.login = login
        self.logins: list[tuple[str, str]] = []
        mailbox = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any,  # noqa: N802
                                  envelope: Any) -> str:
                if mailbox.login is not None and not session.authenticated:
                    return "530 5.7.0 Authentication required"
                mailbox.messages.append(email.message_from_bytes(envelope.content))
                return "250 OK"

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                         data: Any) -> AuthResult:
            if not isinstance(data, LoginPassword):
                return AuthResult(success=False, handled=False)
            given = (data.login.decode(), data.password.decode())
            mailbox.logins.append(given)
            return AuthResult(success=given == mailbox.login, handled=False)

        self.port = free_port()
        extra: dict[str, Any] = {} if login is None else {
            "authenticator": authenticate, "auth_require_tls": False,
            "auth_exclude_mechanism": ["LOGIN"]}  # PLAIN only: a 535 ends the attempt
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     **extra)

    def settings(self) -> dict[str, Any]:
        found: dict[str, Any] = {"host": "127.0.0.1", "port": self.port, "security": "none",
                                 "sender": "shop@example.com"}
        if self.login is not None:
            found.update(user=self.login[0], password=self.login[1])
        return found

    @staticmethod
    def text(message: Message) -> str:
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                return payload.decode()
        return ""

    @staticmethod
    def html(message: Message) -> str:
        for part in message.walk():
            if part.get_content_type() == "text/html":
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                return payload.decode()
        return ""


def body_of(received: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return json.loads(json.dumps(received[1]))

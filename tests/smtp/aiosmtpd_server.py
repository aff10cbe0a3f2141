"""A scriptable SMTP server for the email tests, on Debian's python3-aiosmtpd.

Run with /usr/bin/python3 (Debian's, which has aiosmtpd; a pyenv python3 may shadow it).
It prints "READY <port>" once it listens, then serves until killed. Every accepted message is
written to OUT/NNNN.eml (atomically) with a line in OUT/messages.jsonl; every AUTH attempt is
a line in OUT/auth.jsonl.

  --tls starttls|implicit|none   STARTTLS offered (--require-starttls: before anything else),
                                 TLS from the first byte, or no TLS at all
  --auth-anytime                 offer AUTH before TLS too (default: only over TLS)
  --user LOGIN:PASSWORD          accepted for AUTH PLAIN and LOGIN (repeatable)
  --no-plain                     do not offer AUTH PLAIN (so LOGIN is used)
  --auth-required                refuse MAIL before a login (530 5.7.0)
  --login-fail MSG               reply to a refused PLAIN/LOGIN (default 535 5.7.8 ...)
  --xoauth2 TOKEN                offer XOAUTH2 and accept this bearer token (repeatable);
                                 any other token gets Gmail's 334 JSON challenge, then 535
  --reject-html MSG              refuse a message that has an HTML part with MSG
  --reject-data MSG              refuse every message with MSG
  --rcpt-reply MSG               answer every RCPT with MSG
"""

import argparse
import asyncio
import base64
import email
import email.policy
import json
import os
import signal
import ssl
import sys
import logging
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# aiosmtpd itself logs a deprecation warning (Session.login_data) on every AUTH.
logging.getLogger("mail.log").setLevel(logging.ERROR)

GMAIL_CHALLENGE = json.dumps(
    {"status": "401", "schemes": "Bearer", "scope": "https://mail.google.com/"},
    separators=(",", ":"),
)
GMAIL_535 = (
    "535 5.7.8 Username and Password not accepted. For more information, go to "
    "https://support.google.com/mail/?p=BadCredentials"
)


def append(path, record):
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


class Handler:
    def __init__(self, args):
        self.args = args
        self.count = 0
        self.out = args.out

    def log_auth(self, mech, login, ok, **extra):
        record = {"mech": mech, "login": login, "ok": ok, "time": time.time()}
        record.update(extra)
        append(os.path.join(self.out, "auth.jsonl"), record)

    async def auth_XOAUTH2(self, server, args):
        if not self.args.xoauth2:
            await server.push("504 5.5.4 Unrecognized authentication type")
            return AuthResult(success=False, handled=True)
        if len(args) == 2:
            blob = args[1].encode()
        else:
            blob = await server.challenge_auth("", encode_to_b64=False)
        try:
            text = base64.b64decode(blob, validate=True).decode()
        except Exception:
            await server.push("501 5.5.2 Can't decode base64")
            return AuthResult(success=False, handled=True)
        fields = dict(
            part.split("=", 1) for part in text.split("\x01") if "=" in part
        )
        user = fields.get("user", "")
        token = fields.get("auth", "").removeprefix("Bearer ")
        if token in self.args.xoauth2:
            self.log_auth("XOAUTH2", user, True, token=token)
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        # Gmail and Exchange: the error as a base64 JSON challenge, then (after the client's
        # empty line) 535.
        answer = await server.challenge_auth(GMAIL_CHALLENGE)
        self.log_auth(
            "XOAUTH2", user, False, token=token, answered=repr(answer)
        )
        if answer is not None and not isinstance(answer, bytes):
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False, message=GMAIL_535)

    def authenticator(self, server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else ""
        password = (
            auth_data.password.decode() if isinstance(auth_data, LoginPassword) else ""
        )
        ok = f"{login}:{password}" in self.args.user
        self.log_auth(mechanism, login, ok)
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        # handled=False: aiosmtpd sends the message (with handled=True it sends nothing and
        # the client hangs).
        return AuthResult(
            success=False,
            handled=False,
            message=self.args.login_fail or "535 5.7.8 Authentication credentials invalid",
        )

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.args.rcpt_reply:
            return self.args.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.content
        if self.args.reject_data:
            return self.args.reject_data
        if self.args.reject_html and b"text/html" in content:
            return self.args.reject_html
        self.count += 1
        name = f"{self.count:04d}.eml"
        tmp = os.path.join(self.out, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(content)
        os.rename(tmp, os.path.join(self.out, name))
        tls = session.ssl is not None or self.args.tls == "implicit"
        login = getattr(session.auth_data, "login", None)
        if isinstance(login, bytes):
            login = login.decode()
        append(
            os.path.join(self.out, "messages.jsonl"),
            {
                "file": name,
                "time": time.time(),
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "tls": tls,
                "login": login,
                "subject": str(
                    email.message_from_bytes(content, policy=email.policy.default)["Subject"]
                ),
            },
        )
        return "250 2.0.0 OK queued as " + name


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--tls", choices=["starttls", "implicit", "none"], default="starttls")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--require-starttls", action="store_true")
    p.add_argument("--auth-anytime", action="store_true")
    p.add_argument("--user", action="append", default=[])
    p.add_argument("--no-plain", action="store_true")
    p.add_argument("--auth-required", action="store_true")
    p.add_argument("--login-fail")
    p.add_argument("--xoauth2", action="append", default=[])
    p.add_argument("--reject-html")
    p.add_argument("--reject-data")
    p.add_argument("--rcpt-reply")
    args = p.parse_args()
    # Each login mechanism is offered only when the test asks for it.
    exclude = []
    if not args.user or args.no_plain:
        exclude.append("PLAIN")
    if not args.user:
        exclude.append("LOGIN")
    if not args.xoauth2:
        exclude.append("XOAUTH2")
    handler = Handler(args)
    ctx = None
    if args.tls != "none":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
    kwargs = dict(
        hostname="127.0.0.1",
        port=args.port,
        authenticator=handler.authenticator,
        auth_exclude_mechanism=exclude,
        auth_required=args.auth_required,
        # aiosmtpd does not know that an implicit-TLS session is encrypted: AUTH would never
        # be offered there with auth_require_tls.
        auth_require_tls=not (args.auth_anytime or args.tls == "implicit"),
    )
    if args.tls == "starttls":
        kwargs.update(tls_context=ctx, require_starttls=args.require_starttls)
    elif args.tls == "implicit":
        kwargs.update(ssl_context=ctx)
    controller = Controller(handler, **kwargs)
    controller.start()
    print(f"READY {args.port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (controller.stop(), sys.exit(0)))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        controller.stop()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
# smtp-test-server.py: a real aiosmtpd server for the client's interoperability tests
#
# Listens on 127.0.0.1 on a free port, prints {"port": N, "ca": PATH} as one JSON line on
# stdout, saves each delivered message as N.eml (+ N.json with the envelope) in --outdir, and
# exits when its stdin closes (the test died or finished) or when it is killed.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import argparse
import asyncio
import json
import os
import ssl
import subprocess
import sys
import threading

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword
except ImportError as error:  # the test then skips
    print(json.dumps({"skip": f"aiosmtpd missing: {error}"}), flush=True)
    sys.exit(0)

USER = b"relay-user"
PASSWORD = b"correct horse battery staple"
HOST_NAME = "smtp.relay.test"


def run_openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_certificates(certdir):
    """A throw-away CA and a server certificate for smtp.relay.test and 127.0.0.1."""
    if os.path.exists(os.path.join(certdir, "server.pem")):
        return
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run_openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                "-subj", "/CN=Relay Test CA",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=certdir)
    run_openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr",
                "-subj", f"/CN={HOST_NAME}", cwd=certdir)
    with open(os.path.join(certdir, "server.ext"), "w") as ext:
        ext.write(f"subjectAltName=DNS:{HOST_NAME},IP:127.0.0.1\n"
                  "basicConstraints=CA:FALSE\n"
                  "keyUsage=critical,digitalSignature\n"
                  "extendedKeyUsage=serverAuth\n")
    run_openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", "server.tmp", "-days", "2",
                "-extfile", "server.ext", cwd=certdir)
    # rename last: a concurrent run never sees half a certificate
    os.replace(os.path.join(certdir, "server.tmp"), os.path.join(certdir, "server.pem"))


class Handler:
    def __init__(self, outdir):
        self.outdir = outdir
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if address.startswith("tempfail"):
            return f"451 4.3.0 <{address}>: Temporary local problem, try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.outdir, str(self.count))
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "mail_options": envelope.mail_options,
                       # the client's port: messages of one session share it
                       "peer_port": session.peer[1]}, f)
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content)
        return f"250 2.0.0 Ok: queued as TEST{self.count}"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login == USER and auth_data.password == PASSWORD)
    # handled=False: aiosmtpd then answers 535 itself instead of staying silent
    return AuthResult(success=ok, handled=False)


class PortZeroController(Controller):
    """Controller binds the configured port; with port 0, learn the real one before the
    start-up self-test connects to it."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["plain", "starttls", "tls"], default="plain")
    parser.add_argument("--auth", choices=["none", "plain", "login"], default="none")
    parser.add_argument("--outdir", required=True)
    parser.add_argument("--certdir", required=True)
    args = parser.parse_args()

    try:
        make_certificates(args.certdir)
    except FileNotFoundError as error:  # no openssl: the test skips rather than fails
        print(json.dumps({"skip": f"cannot make certificates: {error}"}), flush=True)
        return
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(os.path.join(args.certdir, "server.pem"),
                            os.path.join(args.certdir, "server.key"))

    kwargs = {"hostname": "127.0.0.1", "port": 0, "ident": "relay test server"}
    smtp = {}
    if args.mode == "starttls":
        smtp.update(tls_context=context, require_starttls=True)
    elif args.mode == "tls":
        kwargs["ssl_context"] = context
    if args.auth != "none":
        smtp.update(authenticator=authenticator, auth_required=True,
                    # aiosmtpd 1.4 only counts STARTTLS as TLS; implicit TLS is TLS too
                    auth_require_tls=args.mode == "starttls")
        if args.auth == "login":
            smtp["auth_exclude_mechanism"] = ["PLAIN"]
        else:
            smtp["auth_exclude_mechanism"] = ["LOGIN"]

    controller = PortZeroController(Handler(args.outdir), **kwargs, **smtp)
    controller.start()
    print(json.dumps({"port": controller.port,
                      "ca": os.path.join(args.certdir, "ca.pem"),
                      "cert": os.path.join(args.certdir, "server.pem")}), flush=True)

    done = threading.Event()

    def wait_for_stdin():
        sys.stdin.buffer.read()
        done.set()

    threading.Thread(target=wait_for_stdin, daemon=True).start()
    done.wait()
    controller.stop()


if __name__ == "__main__":
    main()

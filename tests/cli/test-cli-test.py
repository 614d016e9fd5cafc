#!/usr/bin/python3
# test-cli-test.py: `smtp-relay test` end to end, as a script or support person runs it
#
# Runs the real binary with settings in a throw-away GSettings keyfile and the password in a
# throw-away libsecret file keyring, against the real aiosmtpd server of tests/, and checks the
# outcome line, the exit codes of sysexits.h, and that the password appears nowhere.
# Usage: test-cli-test.py SMTP_RELAY SCHEMA_DIR SERVER_SCRIPT     (prints TAP)
#
# SPDX-License-Identifier: GPL-3.0-or-later

import base64
import hashlib
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading

binary, schema_dir, server_script = sys.argv[1:4]
USER, PASSWORD = "relay-user", "correct horse battery staple"
results = []


def ok(condition, name, detail=""):
    results.append(condition)
    print(f"{'ok' if condition else 'not ok'} {len(results)} {name}")
    if not condition and detail:
        for line in str(detail).splitlines():
            print(f"# {line}")


class Server:
    def __init__(self, scratch, mode="plain", auth="none"):
        self.outdir = tempfile.mkdtemp(dir=scratch)
        self.process = subprocess.Popen(
            [sys.executable, server_script, "--mode", mode, "--auth", auth,
             "--outdir", self.outdir, "--certdir", os.path.join(scratch, "certs")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = json.loads(self.process.stdout.readline())

    def messages(self):
        return sorted(f for f in os.listdir(self.outdir) if f.endswith(".eml"))

    def read(self, name):
        with open(os.path.join(self.outdir, name), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)


class Environment:
    """A home of its own: settings keyfile, file keyring, no session bus."""

    def __init__(self, scratch):
        self.home = tempfile.mkdtemp(dir=scratch)
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY")}
        self.env.update({
            "HOME": self.home,
            "XDG_CONFIG_HOME": os.path.join(self.home, "config"),
            "XDG_DATA_HOME": os.path.join(self.home, "data"),
            "XDG_STATE_HOME": os.path.join(self.home, "state"),
            "GSETTINGS_BACKEND": "keyfile",
            "GSETTINGS_SCHEMA_DIR": schema_dir,
            "SECRET_BACKEND": "file",
            "SECRET_FILE_TEST_PATH": os.path.join(self.home, "test.keyring"),
            "SECRET_FILE_TEST_PASSWORD": "cli-test-keyring",
            "LC_ALL": "C.UTF-8", "LANGUAGE": "",
        })

    def settings(self, **keys):
        path = os.path.join(self.env["XDG_CONFIG_HOME"], "glib-2.0", "settings")
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "keyfile"), "w") as f:
            f.write("[io/github/smtprelay/SmtpRelay]\n")
            for key, value in keys.items():
                f.write(f"{key.replace('_', '-')}={value}\n")

    def store_password(self, server, password):
        subprocess.run(["secret-tool", "store", "--label=SMTP Relay", "xdg:schema",
                        "io.github.smtprelay.SmtpRelay", "server", server, "user", USER],
                       input=password, text=True, env=self.env, check=True)

    def run(self, *args):
        return subprocess.run([binary, "test", *args], env=self.env, capture_output=True,
                              text=True, timeout=60)


def fingerprint(pem_path):
    with open(pem_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def greeting_server(greeting):
    """Accepts one connection, greets it with @greeting, and closes after the client's QUIT."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        with listener:
            connection, _ = listener.accept()
            with connection:
                connection.sendall(greeting.encode() + b"\r\n")
                connection.settimeout(10)
                try:
                    while connection.recv(1024):
                        pass
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def starttls_refusing_server(reply):
    """Greets, offers STARTTLS, and answers it with @reply."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        with listener:
            connection, _ = listener.accept()
            with connection, connection.makefile("rwb") as f:
                f.write(b"220 relay ESMTP\r\n")
                f.flush()
                f.readline()   # EHLO
                f.write(b"250-relay\r\n250 STARTTLS\r\n")
                f.flush()
                f.readline()   # STARTTLS
                f.write(reply.encode() + b"\r\n")
                f.flush()
                connection.settimeout(10)
                try:
                    while f.readline():
                        pass
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def main():
    with tempfile.TemporaryDirectory() as scratch:
        os.makedirs(os.path.join(scratch, "certs"))

        # 1. A plain relay accepts the test message.
        server = Server(scratch)
        if "skip" in server.info:
            print(f"1..0 # SKIP {server.info['skip']}")
            return 0
        env = Environment(scratch)
        env.settings(server="'127.0.0.1'", port=f"uint16 {server.info['port']}",
                     security="'none'", sender="'alerts@example.com'",
                     test_recipient="'admin@example.com'")
        run = env.run("--verbose")
        ok(run.returncode == 0, "plain relay: exit 0", run.stderr)
        ok("accepted" in run.stdout and "queued as TEST1" in run.stdout,
           "plain relay: the outcome names the server's reply", run.stdout)
        ok("MAIL FROM:<alerts@example.com>" in run.stdout, "--verbose prints the transcript",
           run.stdout)
        msgs = server.messages()
        ok(len(msgs) == 1 and "Subject: SMTP Relay test message" in server.read(msgs[0])
           and "To: admin@example.com" in server.read(msgs[0]),
           "the test message arrived, addressed to the saved test recipient")
        run = env.run("--to", "oncall@example.org")
        ok(run.returncode == 0 and "To: oncall@example.org" in server.read(server.messages()[-1]),
           "--to overrides the saved recipient", run.stderr)
        # A local user name goes where `send --to root` sends it: the Local Mail Recipient.
        run = env.run("--to", "root")
        ok(run.returncode == 67 and "Local Mail Recipient" in run.stderr,
           "--to root without a Local Mail Recipient: 67, as for send", run.stderr)
        env.settings(server="'127.0.0.1'", port=f"uint16 {server.info['port']}",
                     security="'none'", sender="'alerts@example.com'",
                     local_recipient="'oncall@example.org'")
        before = len(server.messages())
        run = env.run("--to", "root")
        ok(run.returncode == 0 and len(server.messages()) == before + 1
           and "To: oncall@example.org" in server.read(server.messages()[-1]),
           "--to root goes to the Local Mail Recipient", run.stderr)
        server.stop()

        # 2. STARTTLS and AUTH with the keyring password; the certificate pinned by fingerprint.
        server = Server(scratch, mode="starttls", auth="plain")
        env = Environment(scratch)
        env.settings(server="'127.0.0.1'", port=f"uint16 {server.info['port']}",
                     security="'starttls'", requires_auth="true", username=f"'{USER}'",
                     sender="'alerts@example.com'", test_recipient="'admin@example.com'")
        run = env.run()
        ok(run.returncode == 78 and "No password" in run.stderr,
           "no password in the keyring: configuration error 78", run.stderr)
        env.store_password("127.0.0.1", PASSWORD)
        run = env.run()
        ok(run.returncode == 76 and "unknown issuer" in run.stderr.lower()
           and fingerprint(server.info["cert"])[:16].lower() in run.stderr.lower().replace(":", ""),
           "an unverifiable certificate fails (76) with its reason and fingerprint", run.stderr)
        env.settings(server="'127.0.0.1'", port=f"uint16 {server.info['port']}",
                     security="'starttls'", requires_auth="true", username=f"'{USER}'",
                     sender="'alerts@example.com'", test_recipient="'admin@example.com'",
                     pinned_certificate=f"'{fingerprint(server.info['cert'])}'")
        run = env.run("--verbose")
        ok(run.returncode == 0, "STARTTLS + AUTH PLAIN with the pinned certificate: exit 0",
           run.stdout + run.stderr)
        plain = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
        everything = run.stdout + run.stderr
        ok(PASSWORD not in everything and plain not in everything
           and base64.b64encode(PASSWORD.encode()).decode() not in everything,
           "the password and its base64 appear nowhere in the output")
        env.store_password("127.0.0.1", "wrong password")
        run = env.run()
        ok(run.returncode == 77 and "535" in run.stderr, "a refused login: exit 77 with the 535",
           run.stderr)
        server.stop()

        # 3. Nothing listens: unavailable (69), said plainly.
        env = Environment(scratch)
        env.settings(server="'127.0.0.1'", port=f"uint16 {closed_port()}", security="'none'",
                     sender="'alerts@example.com'", test_recipient="'admin@example.com'")
        run = env.run()
        ok(run.returncode == 69 and "refused" in run.stderr, "closed port: exit 69, refused",
           run.stderr)

        # 4. A server that greets with a refusal: 4xx is "try later" (75), 5xx "no service for
        #    us" (69), as for any other reply; neither is a protocol error (76). The hint says
        #    to wait only when waiting helps.
        for greeting, code, hint in (("421 4.3.2 Too busy, try later", 75, "try again later"),
                                     ("554 5.7.1 No SMTP service for you", 69,
                                      "refuses mail from this computer")):
            port = greeting_server(greeting)
            env.settings(server="'127.0.0.1'", port=f"uint16 {port}", security="'none'",
                         sender="'alerts@example.com'", test_recipient="'admin@example.com'")
            run = env.run()
            ok(run.returncode == code and greeting.split()[0] in run.stderr and hint in run.stderr,
               f"greeting {greeting.split()[0]}: exit {code}, hint '{hint}'", run.stderr)

        # A 454 to STARTTLS is for now, as `send` treats it (queued): 75, not a protocol
        #    error (76).
        port = starttls_refusing_server("454 4.7.0 TLS not available due to temporary reason")
        env.settings(server="'127.0.0.1'", port=f"uint16 {port}", security="'starttls'",
                     sender="'alerts@example.com'", test_recipient="'admin@example.com'")
        run = env.run()
        ok(run.returncode == 75 and "454" in run.stderr, "STARTTLS refused with 454: exit 75",
           run.stderr)

        # 5. Usage and data errors are caught before any connection.
        run = env.run("--to", "not an address")
        ok(run.returncode == 65, "an invalid recipient: exit 65", run.stderr)
        env.settings(server="'127.0.0.1'", security="'none'", sender="'alerts@example.com'")
        run = env.run()
        ok(run.returncode == 64 and "--to" in run.stderr, "no recipient: usage error 64",
           run.stderr)
        run = env.run("--bogus")
        ok(run.returncode == 64, "an unknown option: usage error 64", run.stderr)
        env.settings(sender="'alerts@example.com'", test_recipient="'admin@example.com'")
        run = env.run()
        ok(run.returncode == 78 and "server" in run.stderr, "no server: configuration error 78",
           run.stderr)
        env.settings(server="'smtp_relay.example.com'", sender="'alerts@example.com'",
                     test_recipient="'admin@example.com'")
        run = env.run()
        ok(run.returncode == 78 and "server in the settings is not valid" in run.stderr,
           "an invalid server: configuration error 78, not 65 (an invalid address)", run.stderr)
        env.settings(server="'127.0.0.1'", sender="'alerts@example.com'",
                     test_recipient="'admin@example.com'", requires_auth="true", username="''")
        run = env.run()
        ok(run.returncode == 78 and "no user name" in run.stderr,
           "a login without a user name: configuration error 78, nothing sent", run.stderr)
        # No sender and a password file that is refused: settings to fix (78), as for `send`.
        env.settings(server="'127.0.0.1'", test_recipient="'admin@example.com'")
        run = env.run()
        ok(run.returncode == 78 and "sender" in run.stderr, "no sender: configuration error 78",
           run.stderr)
        shared = os.path.join(scratch, "shared-password")
        with open(shared, "w") as f:
            f.write("secret\n")
        os.chmod(shared, 0o644)
        env.settings(server="'127.0.0.1'", sender="'alerts@example.com'",
                     test_recipient="'admin@example.com'", requires_auth="true",
                     username=f"'{USER}'", password_file=f"'{shared}'")
        run = env.run()
        ok(run.returncode == 78 and "0600" in run.stderr,
           "a password file others can read: configuration error 78, not 75", run.stderr)

    print(f"1..{len(results)}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
# test-cli-send.py: `smtp-relay send`, `sendmail`, `queue` and `flush`, end to end (TAP)
#
# Usage: test-cli-send.py SMTP_RELAY_BINARY
#
# Runs the real binary as a subprocess against the real aiosmtpd server of
# tests/smtp-test-server.py, with settings in a keyfile (GSETTINGS_BACKEND=keyfile) in a
# temporary XDG_CONFIG_HOME, the queue in a temporary XDG_STATE_HOME, and no session bus, so
# the keyring is unavailable unless a test selects libsecret's file backend. No test sleeps:
# the server prints its port once it listens, and every command is waited for.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import json
import os
import pty
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
BINARY = os.path.abspath(sys.argv[1])
# --real-keyring: run under tests/integration/with-keyring.sh (a gnome-keyring-daemon on a
# private session bus), and only the tests that need it.
REAL_KEYRING = "--real-keyring" in sys.argv[2:]
PYTHON = "/usr/bin/python3"
USER = "relay-user"
PASSWORD = "correct horse battery staple"

EX_OK, EX_USAGE, EX_DATAERR, EX_NOUSER, EX_UNAVAILABLE, EX_TEMPFAIL, EX_CONFIG = (
    0, 64, 65, 67, 69, 75, 78)


class Skip(Exception):
    pass


class Server:
    """The aiosmtpd server on 127.0.0.1, port 0."""

    def __init__(self, root, auth="none"):
        self.outdir = tempfile.mkdtemp(dir=root, prefix="server-")
        certdir = os.path.join(root, "certs")
        os.makedirs(certdir, exist_ok=True)
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(HERE, "smtp-test-server.py"), "--mode", "plain",
             "--auth", auth, "--outdir", self.outdir, "--certdir", certdir],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        info = json.loads(self.proc.stdout.readline() or b'{"skip": "server died"}')
        if "skip" in info:
            self.stop()
            raise Skip(info["skip"])
        self.port = info["port"]

    def messages(self):
        """[(envelope, bytes)] in delivery order."""
        names = sorted((n for n in os.listdir(self.outdir) if n.endswith(".eml")),
                       key=lambda n: int(n.split(".")[0]))
        out = []
        for name in names:
            base = os.path.join(self.outdir, name[:-4])
            with open(base + ".json") as f:
                envelope = json.load(f)
            with open(base + ".eml", "rb") as f:
                out.append((envelope, f.read()))
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


HELD = []


def queue_while_down(env, subjects, to="ops@example.org"):
    """One message per subject, which sendmail queues: env's relay is down."""
    for subject in subjects:
        check_rc(env.run(["sendmail", "-i", to], f"Subject: {subject}\n\nqueued\n".encode()),
                 EX_OK)


def signal_and_wait(proc, signum):
    """Sends @signum to a popen()ed command and waits for it: (exit code, its stderr)."""
    proc.send_signal(signum)
    proc.wait(timeout=60)
    err = proc.stderr.read().decode(errors="replace")
    proc.stdout.close()
    proc.stderr.close()
    return proc.returncode, err


def slow_relay(session):
    """A relay of our own on 127.0.0.1 for one connection, in a thread: it greets, answers EHLO
    with PIPELINING, then runs session(f, reply) on the connection. Returns (listener, thread);
    the caller closes the listener."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        listener.settimeout(60)
        conn, _ = listener.accept()
        with conn, conn.makefile("rwb") as f:
            def reply(text):
                f.write(text.encode() + b"\r\n")
                f.flush()
            reply("220 slow ESMTP")
            f.readline()
            reply("250-slow\r\n250 PIPELINING")
            session(f, reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


def closed_port():
    """A port where the relay is "down": bound but not listening, so a connection is refused,
    and kept bound until the end so no server of a parallel test can take it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    HELD.append(s)
    return s.getsockname()[1]


class Env:
    """A private home for one test: settings keyfile, state, runtime dir, no session bus."""

    def __init__(self, root, **settings):
        self.root = tempfile.mkdtemp(dir=root, prefix="env-")
        self.config = os.path.join(self.root, "config")
        self.state = os.path.join(self.root, "state")
        self.runtime = os.path.join(self.root, "runtime")
        os.makedirs(os.path.join(self.config, "glib-2.0", "settings"))
        os.makedirs(self.runtime, mode=0o700)
        self.settings = {"server": "'127.0.0.1'", "security": "'none'",
                         "sender": "'alerts@example.com'"}
        self.set(**settings)
        dropped = ("DISPLAY", "WAYLAND_DISPLAY") if REAL_KEYRING else (
            "DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY")
        dropped += ("SECRET_BACKEND", "SECRET_FILE_TEST_PATH", "SECRET_FILE_TEST_PASSWORD",
                    "G_DEBUG")
        self.env = {k: v for k, v in os.environ.items() if k not in dropped}
        self.env.update(GSETTINGS_BACKEND="keyfile", XDG_CONFIG_HOME=self.config,
                        XDG_STATE_HOME=self.state, XDG_RUNTIME_DIR=self.runtime,
                        HOME=self.root, LC_ALL="C.UTF-8")

    def set(self, **settings):
        for key, value in settings.items():
            key = key.replace("_", "-")
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, int):
                # as GSettings writes it to the keyfile: no type, which read_stored() of
                # relay-settings-check.c must not take for an int32 that does not fit
                value = str(value)
            else:
                value = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
            self.settings[key] = value
        with open(os.path.join(self.config, "glib-2.0", "settings", "keyfile"), "w") as f:
            f.write("[io/github/smtprelay/SmtpRelay]\n")
            for key, value in self.settings.items():
                f.write(f"{key}={value}\n")

    def use_file_keyring(self, stored=PASSWORD):
        """libsecret's file backend: a keyring that works without a session bus."""
        self.env.update(SECRET_BACKEND="file",
                        SECRET_FILE_TEST_PATH=os.path.join(self.root, "keyring"),
                        SECRET_FILE_TEST_PASSWORD="keyring-password")
        proc = subprocess.run(["secret-tool", "store", "--label=SMTP Relay",
                               "xdg:schema", "io.github.smtprelay.SmtpRelay",
                               "server", "127.0.0.1", "user", USER],
                              input=stored.encode(), env=self.env, capture_output=True,
                              timeout=60)
        if proc.returncode != 0:
            raise Skip(f"secret-tool store failed: {proc.stderr.decode(errors='replace')}")

    def store_in_real_keyring(self):
        proc = subprocess.run(["secret-tool", "store", "--label=SMTP Relay",
                               "xdg:schema", "io.github.smtprelay.SmtpRelay",
                               "server", "127.0.0.1", "user", USER],
                              input=PASSWORD.encode(), env=self.env, capture_output=True,
                              timeout=60)
        check(proc.returncode == 0, f"secret-tool store: {proc.stderr!r}")

    def popen(self, args, argv0=None):
        binary = BINARY
        if argv0 is not None:
            binary = os.path.join(self.root, argv0)
            if not os.path.exists(binary):
                os.symlink(BINARY, binary)
        return subprocess.Popen([binary, *args], env=self.env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def run(self, args, data=b"", argv0=None):
        proc = self.popen(args, argv0)
        out, err = proc.communicate(data, timeout=120)
        return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    def queue_subjects(self):
        """The Subject of each message in the queue, in the queue's order."""
        subjects = []
        for path in self.queue_files():
            with open(path, "rb") as f:
                subjects.append(header(f.read().split(b"\n\n", 1)[1], "Subject"))
        return subjects

    def queue_files(self):
        queue = os.path.join(self.state, "smtp-relay", "queue")
        if not os.path.isdir(queue):
            return []
        return sorted(os.path.join(queue, n) for n in os.listdir(queue) if n.endswith(".msg"))


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def check_rc(result, expected):
    rc, out, err = result
    check(rc == expected, f"exit status {rc}, expected {expected}; stdout: {out!r}; stderr: {err!r}")


def one_line(err):
    return len(err.strip().splitlines()) == 1


def header(message, name):
    """The unfolded value of header field @name, or None."""
    head = message.split(b"\r\n\r\n", 1)[0].decode("utf-8", errors="replace")
    fields = []
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    for field in fields:
        key, _, value = field.partition(":")
        if key.lower() == name.lower():
            return value.strip()
    return None


# --- the tests --------------------------------------------------------------------------------

def test_send_composes_from_configured_sender(root):
    server = Server(root)
    try:
        env = Env(root, port=server.port)
        result = env.run(["send", "--to", "ops@example.org", "--to", "second@example.org",
                          "--subject", "Sauvegarde échouée", "--from-name", "Backup Bot"],
                         "Disk almost full: 97 %.\n.hidden line starts with a dot\nZoë\n"
                         .encode())
        check_rc(result, EX_OK)
        check(result[1] == "" and result[2] == "", f"not silent: {result[1:]!r}")
        messages = server.messages()
        check(len(messages) == 1, f"{len(messages)} messages delivered")
        envelope, eml = messages[0]
        check(envelope["mail_from"] == "alerts@example.com", envelope)
        check(envelope["rcpt_tos"] == ["ops@example.org", "second@example.org"], envelope)
        check(header(eml, "From") == '"Backup Bot" <alerts@example.com>', header(eml, "From"))
        check(header(eml, "Subject").startswith("=?UTF-8?B?"), header(eml, "Subject"))
        check(b"\r\n.hidden line starts with a dot\r\n" in eml, eml)
        check(b"Zo=C3=AB" in eml, "UTF-8 body not quoted-printable")

        # An older tool's Latin-1 output is sent (the bytes that are not UTF-8 as U+FFFD), not
        # refused: the alert matters more than one letter.
        result = env.run(["send", "--to", "ops@example.org", "--subject", "latin1"],
                         b"Disque d\xe9faillant\n")
        check_rc(result, EX_OK)
        check("not UTF-8" in result[2] and one_line(result[2]), result[2])
        eml = server.messages()[-1][1]
        check(b"Disque d=EF=BF=BDfaillant" in eml, eml)
    finally:
        server.stop()


def test_unusable_stored_setting_is_said(root):
    """A value GSettings ignores (written by hand into the keyfile, or with `dconf write`) is
    replaced by the default without a word from GSettings: the command says which and why,
    then sends with the default."""
    server = Server(root)
    try:
        env = Env(root, port=server.port)
        env.settings["allow-plaintext-auth"] = "'no'"
        env.settings["window-width"] = "50"
        env.set()
        result = env.run(["send", "--to", "ops@example.org", "--subject", "s"], b"body\n")
        check_rc(result, EX_OK)
        lines = result[2].strip().splitlines()
        check(len(lines) == 2, result[2])
        check(lines[0].startswith("smtp-relay send: The setting ") and
              "(allow-plaintext-auth) holds 'no', which is not true or false; the default, "
              "false, is used instead." in lines[0], lines[0])
        check("(window-width) holds 50, which is not a number from 200 to 16384" in lines[1],
              lines[1])
        check(len(server.messages()) == 1, "not delivered")
        # Once the value is one GSettings can use, nothing is said.
        env.settings["allow-plaintext-auth"] = "false"
        del env.settings["window-width"]
        env.set()
        result = env.run(["send", "--to", "ops@example.org", "--subject", "s"], b"body\n")
        check_rc(result, EX_OK)
        check(result[2] == "", result[2])
    finally:
        server.stop()


def test_send_from_a_terminal_says_how_to_end(root):
    # At a terminal `send` says how to end the message instead of waiting silently; Ctrl+D at
    # the start of a line ends it. (With a pipe it stays silent: the test above.)
    server = Server(root)
    master, slave = pty.openpty()
    try:
        env = Env(root, port=server.port)
        proc = subprocess.Popen([BINARY, "send", "--to", "ops@example.org", "--subject", "tty"],
                                env=env.env, stdin=slave, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        os.close(slave)
        slave = None
        os.write(master, b"Typed at a terminal\n")
        os.write(master, b"\x04")
        out, err = proc.communicate(timeout=120)
        check_rc((proc.returncode, out.decode(), err.decode()), EX_OK)
        check("type the message, then press Ctrl+D" in err.decode(), err)
        messages = server.messages()
        check(len(messages) == 1 and b"Typed at a terminal\r\n" in messages[0][1], messages)
    finally:
        os.close(master)
        if slave is not None:
            os.close(slave)
        server.stop()


def test_send_usage_and_config_errors(root):
    env = Env(root, port=closed_port())
    check_rc(env.run(["send", "--subject", "x"], b"x\n"), EX_USAGE)
    check_rc(env.run(["send", "--to", "a@example.org"], b"x\n"), EX_USAGE)
    result = env.run(["send", "--to", "not an address", "--subject", "x"], b"x\n")
    check_rc(result, EX_DATAERR)
    check(one_line(result[2]), result[2])
    env.set(server="")
    result = env.run(["send", "--to", "a@example.org", "--subject", "x"], b"x\n")
    check_rc(result, EX_CONFIG)
    check(one_line(result[2]), result[2])
    env.set(server="smtp_relay.example.org")
    result = env.run(["sendmail", "a@example.org"], b"Subject: x\n\nx\n")
    check_rc(result, EX_CONFIG)
    check("server in the settings is not valid" in result[2], result[2])
    check(env.queue_files() == [], "queued on a usage or configuration error")


FORWARDED = (
    "Received: from elsewhere\n"
    "From: Original Author <author@example.net>\n"
    'To: "Ops, Team" <ops@example.org>,\n'
    "  Team: a@example.org, \"B. Person\" <b@example.org>;\n"
    "Cc: c@example.org (the boss), undisclosed-recipients:;\n"
    "Bcc: hidden@example.org\n"
    "Subject: Fwd: RAID degraded\n"
    "\n"
    "Grüße aus dem Rechenzentrum\n"
    ".a line starting with a dot\n"
    "..two dots\n"
    "end\n"
).encode()


def test_sendmail_t_extracts_and_strips_bcc(root):
    server = Server(root)
    try:
        env = Env(root, port=server.port)
        # As an alternatives link would call it: the program name decides the mode.
        result = env.run(["-t", "-i", "-oem", "-odi"], FORWARDED, argv0="sendmail")
        check_rc(result, EX_OK)
        check(result[1] == "" and result[2] == "", f"not silent: {result[1:]!r}")
        messages = server.messages()
        check(len(messages) == 1, f"{len(messages)} messages delivered")
        envelope, eml = messages[0]
        check(envelope["rcpt_tos"] == ["ops@example.org", "a@example.org", "b@example.org",
                                       "c@example.org", "hidden@example.org"], envelope)
        # The message's own From stays, and is the envelope sender.
        check(envelope["mail_from"] == "author@example.net", envelope)
        check(header(eml, "From") == "Original Author <author@example.net>", header(eml, "From"))
        check(header(eml, "Bcc") is None and b"hidden@example.org" not in eml, "Bcc not removed")
        check(header(eml, "Date") is not None, "no Date added")
        check(header(eml, "Message-ID", ).endswith("@example.net>"), header(eml, "Message-ID"))
        check(header(eml, "Received") == "from elsewhere", "header changed")
        check(b"\n" not in eml.replace(b"\r\n", b""), "bare LF left")
        check("Grüße aus dem Rechenzentrum\r\n".encode() in eml, "8-bit body altered")
        check(b"BODY=8BITMIME" in [o.encode() for o in envelope["mail_options"]], envelope)
        check(b"\r\n.a line starting with a dot\r\n..two dots\r\nend\r\n" in eml, eml)
    finally:
        server.stop()


def test_sendmail_arguments_and_dot(root):
    server = Server(root)
    try:
        env = Env(root, port=server.port)
        # Without -i a lone "." ends the message, as in sendmail; -f sets the envelope sender;
        # no From in the message: the configured sender with -F's name is added.
        result = env.run(["sendmail", "-f", "bounces@example.com", "-FCron Daemon",
                          "-B8BITMIME", "x@example.org, y@example.org"],
                         b"Subject: cron\n\nline one\n.\nnot part of it\n")
        check_rc(result, EX_OK)
        messages = server.messages()
        check(len(messages) == 1, f"{len(messages)} messages delivered")
        envelope, eml = messages[0]
        check(envelope["mail_from"] == "bounces@example.com", envelope)
        check(envelope["rcpt_tos"] == ["x@example.org", "y@example.org"], envelope)
        check(header(eml, "From") == '"Cron Daemon" <bounces@example.com>', header(eml, "From"))
        check(eml.endswith(b"\r\n\r\nline one\r\n"), eml)
        # Grouped as getopt groups them: the last flag of a group takes the rest of it, or the
        # next argument ("-tf SENDER", "-itFName"), which was "unknown option" before.
        for args in (["-tf", "bounces@example.com", "-iFCron Daemon"],
                     ["-itfbounces@example.com", "-itFCron Daemon"]):
            result = env.run(["sendmail", *args],
                             b"To: z@example.org\nSubject: grouped\n\nline one\n.\nline two\n")
            check_rc(result, EX_OK)
            envelope, eml = server.messages()[-1]
            check(envelope["mail_from"] == "bounces@example.com", (args, envelope))
            check(envelope["rcpt_tos"] == ["z@example.org"], (args, envelope))
            check(header(eml, "From") == '"Cron Daemon" <bounces@example.com>', (args, eml))
            check(eml.endswith(b"\r\n.\r\nline two\r\n"), (args, eml))
        result = env.run(["sendmail", "-tf"], b"To: z@example.org\n\nx\n")
        check_rc(result, EX_USAGE)
        check("-tf" in result[2], result[2])
        check_rc(env.run(["sendmail", "-bd"], b""), EX_USAGE)
        check_rc(env.run(["sendmail", "-Q"], b""), EX_USAGE)
        check_rc(env.run(["sendmail"], b"Subject: x\n\nx\n"), EX_USAGE)
        # ...said before the message is read (at a terminal, before it is typed)
        proc = env.popen(["sendmail"])
        try:
            check(proc.wait(timeout=60) == EX_USAGE, "waited for the message first")
        finally:
            proc.stdin.close()
            proc.stdout.close()
            proc.stderr.close()
        check_rc(env.run(["sendmail", "-t"], b"Subject: x\n\nx\n"), EX_DATAERR)
    finally:
        server.stop()


def test_sendmail_help(root):
    # --help is no sendmail option, but what someone at a terminal tries; it sends nothing.
    env = Env(root, server="")
    rc, out, err = env.run(["sendmail", "--help"], b"Subject: x\n\nx\n")
    check_rc((rc, out, err), EX_OK)
    for option in ("-t", "-i, -oi", "-f SENDER", "-F NAME", "-bp", "-q"):
        check(f"  {option} " in out, f"{option!r} missing from: {out!r}")
    check(err == "" and not env.queue_files(), (err, env.queue_files()))
    # As mailq's and sendmail's link names.
    check_rc(env.run(["--help"], argv0="sendmail"), EX_OK)


def test_sendmail_malformed_input_is_refused(root):
    server = Server(root)
    try:
        env = Env(root, port=server.port)
        bad = {
            "long header line": b"Subject: " + b"a" * 990 + b"\n\nbody\n",
            "empty": b"",
            "bad recipient": None,
        }
        for what, data in bad.items():
            if data is None:
                result = env.run(["sendmail", "not-an-address@"], b"Subject: x\n\nx\n")
            else:
                result = env.run(["sendmail", "-i", "ops@example.org"], data)
            check(result[0] == EX_DATAERR, f"{what}: exit {result[0]}, stderr {result[2]!r}")
            check(one_line(result[2]), f"{what}: {result[2]!r}")
        check(server.messages() == [], "something was sent")
        check(env.queue_files() == [], "something was queued")
    finally:
        server.stop()


def test_sendmail_takes_what_alert_sources_send(root):
    """What real alert sources hand to sendmail, each refused before (exit 65, the alert lost):
    cron output with a NUL or a line over 998 octets, a script's message without a header,
    fail2ban's "root@localhost" and mailutils' "root@HOSTNAME" (local users)."""
    host = socket.gethostname()
    server = Server(root)
    try:
        env = Env(root, port=server.port, local_recipient="admin@example.org")
        cases = [
            ("NUL byte", CRON_ARGS, CRON_MAIL + b"find: a\x00b\n"),
            ("long line", CRON_ARGS, CRON_MAIL + b"x" * 1500 + b"\n"),
            ("no header", ["root"], b"Backup of /srv failed: No space left on device\n"),
            ("fail2ban", ["-f", f"root@{host}", "root@localhost"],
             b"Subject: [Fail2Ban] sshd: banned 192.0.2.7\n\nBanned.\n"),
            ("mailutils", ["-oi", "-f", f"root@{host}", "-t"],
             f"From: root@{host}\nTo: <root@{host}>,<ops@example.org>\nSubject: mu\n\nx\n".encode()),
        ]
        for what, args, data in cases:
            result = env.run(args, data, argv0="sendmail")
            check(result[0] == EX_OK, f"{what}: exit {result[0]}, stderr {result[2]!r}")
        messages = server.messages()
        check(len(messages) == len(cases), f"{len(messages)} of {len(cases)} delivered")
        for (what, _, _), (envelope, eml) in zip(cases, messages):
            check("admin@example.org" in envelope["rcpt_tos"], f"{what}: {envelope}")
            # a sender at this machine gives way to the configured one
            check(envelope["mail_from"] == "alerts@example.com", f"{what}: {envelope}")
            check(all(len(line) <= 998 for line in eml.split(b"\r\n")), f"{what}: a long line")
            check(b"\x00" not in eml, f"{what}: a NUL byte")
        check(messages[4][0]["rcpt_tos"] == ["admin@example.org", "ops@example.org"], messages[4][0])
        check(b"Backup of /srv failed" in messages[2][1].split(b"\r\n\r\n", 1)[1], messages[2][1])
        check(env.queue_files() == [], "something was queued")
    finally:
        server.stop()


# What Debian's cron runs when a job prints something and MAILTO is not set (cron/do_command.c).
CRON_ARGS = ["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"]
CRON_MAIL = (
    "From: root (Cron Daemon)\n"
    "To: root\n"
    "Subject: Cron <root@backup> /usr/local/bin/nightly-backup\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "X-Cron-Env: <SHELL=/bin/sh>\n"
    "\n"
    "rsync: connection unexpectedly closed\n"
).encode()


def test_sendmail_local_user_goes_to_local_recipient(root):
    server = Server(root)
    try:
        env = Env(root, port=server.port)
        # Not set: refused with what to set, as "addressee unknown"; nothing sent or queued.
        result = env.run(CRON_ARGS, CRON_MAIL, argv0="sendmail")
        check_rc(result, EX_NOUSER)
        check(one_line(result[2]) and "root" in result[2] and "Local Mail Recipient" in result[2],
              result[2])
        env.set(local_recipient="admin at example.org")
        result = env.run(CRON_ARGS, CRON_MAIL, argv0="sendmail")
        check_rc(result, EX_CONFIG)
        check(one_line(result[2]) and "admin at example.org" in result[2], result[2])
        check(server.messages() == [] and env.queue_files() == [], "sent or queued")

        env.set(local_recipient="admin@example.org")
        result = env.run(CRON_ARGS, CRON_MAIL, argv0="sendmail")
        check_rc(result, EX_OK)
        check(result[1] == "" and result[2] == "", f"not silent: {result[1:]!r}")
        messages = server.messages()
        check(len(messages) == 1, f"{len(messages)} messages delivered")
        envelope, eml = messages[0]
        check(envelope["rcpt_tos"] == ["admin@example.org"], envelope)
        # "root" is no From for a server beyond this machine: the sender, with cron's name.
        check(envelope["mail_from"] == "alerts@example.com", envelope)
        check(header(eml, "From") == '"Cron Daemon" <alerts@example.com>', header(eml, "From"))
        check(eml.count(b"\r\nFrom:") + eml.startswith(b"From:") == 1, eml)
        check(header(eml, "To") == "root", "the header's To was changed")
        check(header(eml, "X-Cron-Env") == "<SHELL=/bin/sh>", "header lost")

        # Several local names and the address itself: one recipient. `send` maps them too.
        check_rc(env.run(["sendmail", "root", "www-data", "Admin@example.org", "ops@example.org"],
                         b"Subject: x\n\nx\n"), EX_OK)
        check_rc(env.run(["send", "--to", "root", "--subject", "disk"], b"x\n"), EX_OK)
        messages = server.messages()
        check(len(messages) == 3, f"{len(messages)} messages delivered")
        check(messages[1][0]["rcpt_tos"] == ["admin@example.org", "ops@example.org"], messages[1][0])
        check(messages[2][0]["rcpt_tos"] == ["admin@example.org"], messages[2][0])
    finally:
        server.stop()


def test_sendmail_local_f_gives_way(root):
    # cronie (Fedora, Arch…) runs this for every job that prints; fail2ban passes "-f fail2ban".
    # A sender that only means something on this machine must not lose the alert.
    cronie = ["-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root"]
    server = Server(root)
    try:
        env = Env(root, port=server.port, local_recipient="admin@example.org")
        result = env.run(cronie, CRON_MAIL, argv0="sendmail")
        check_rc(result, EX_OK)
        check(result[2] == "", f"not silent: {result[2]!r}")
        # A sender with a short host name is no address either: said, and the alert still goes.
        result = env.run(["-f", "root@backup", "ops@example.org"],
                         b"From: root@backup\nSubject: disk\n\nfull\n", argv0="sendmail")
        check_rc(result, EX_OK)
        check(one_line(result[2]) and "root@backup" in result[2], result[2])
        messages = server.messages()
        check(len(messages) == 2, f"{len(messages)} messages delivered")
        envelope, eml = messages[0]
        check(envelope["mail_from"] == "alerts@example.com", envelope)
        check(envelope["rcpt_tos"] == ["admin@example.org"], envelope)
        check(header(eml, "From") == '"Cron Daemon" <alerts@example.com>', header(eml, "From"))
        envelope, eml = messages[1]
        check(envelope["mail_from"] == "alerts@example.com", envelope)
        check(header(eml, "From") == "root@backup", "a From that is not a local name was changed")
    finally:
        server.stop()


def test_relay_down_queues_then_flush_delivers_once(root):
    env = Env(root, port=closed_port())
    result = env.run(["sendmail", "-i", "ops@example.org"], b"Subject: queued\n\nwait for me\n")
    check_rc(result, EX_OK)
    check("queued" in result[2] and one_line(result[2]), result[2])
    files = env.queue_files()
    check(len(files) == 1, files)
    st = os.stat(files[0])
    check(stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode))
    check(stat.S_IMODE(os.stat(os.path.dirname(files[0])).st_mode) == 0o700, "queue dir mode")

    rc, out, err = env.run(["queue"])
    check(rc == 0 and "ops@example.org" in out and "refused" in out, out)
    result = env.run(["flush"])
    check_rc(result, EX_TEMPFAIL)   # still down
    # The timer's journal says why it still waits, not only that it does.
    check("1 message still queued; last attempt:" in result[2] and "refused" in result[2]
          and one_line(result[2]), result[2])
    check(len(env.queue_files()) == 1, "lost while the relay was down")

    server = Server(root)
    try:
        env.set(port=server.port)
        result = env.run(["flush"])
        check_rc(result, EX_OK)
        check_rc(env.run(["flush"]), EX_OK)
        messages = server.messages()
        check(len(messages) == 1, f"{len(messages)} deliveries")
        check(b"wait for me" in messages[0][1], messages[0][1])
        check(env.queue_files() == [], "entry left after delivery")
        rc, out, err = env.run(["queue"])
        check(rc == 0 and "empty" in out, out)
    finally:
        server.stop()


def test_send_takes_the_backlog_along(root):
    # Alerts queued while the relay was down go with the next one that gets through, on its
    # session (as msmtpq does): no window, no timer needed. Only what the server refuses for
    # good is said, since nothing else would say it.
    env = Env(root, port=closed_port())
    queue_while_down(env, ["first", "second"])
    time.sleep(1.1)   # queued a second later, so tried last
    queue_while_down(env, ["refused"], to="reject@example.org")
    check(len(env.queue_files()) == 3, env.queue_files())
    server = Server(root)
    try:
        env.set(port=server.port)
        result = env.run(["sendmail", "-i", "ops@example.org"], b"Subject: third\n\nnow\n")
        check_rc(result, EX_OK)
        check("1 message was refused by the server and moved to" in result[2]
              and one_line(result[2]), result[2])
        rc, out, _ = env.run(["queue", "--failed"])
        check(rc == 0 and "reject@example.org" in out, out)
        messages = server.messages()
        subjects = [header(eml, "Subject") for _, eml in messages]
        # (the two queued in the same second may go in either order)
        check(subjects[0] == "third" and sorted(subjects[1:]) == ["first", "second"], subjects)
        check(len({envelope["peer_port"] for envelope, _ in messages}) == 1,
              [envelope for envelope, _ in messages])
        check(env.queue_files() == [], env.queue_files())
        # With nothing queued, a send is one message, as before.
        check_rc(env.run(["send", "--to", "ops@example.org", "--subject", "alone"], b"x\n"), EX_OK)
        check(len(server.messages()) == 4, server.messages())
    finally:
        server.stop()


def test_refused_message_takes_the_backlog_along(root):
    # The relay refuses this command's own message (an unknown recipient) and keeps the
    # session: what waited goes on that session all the same, and the command then fails for
    # its own message, with the server's words.
    env = Env(root, port=closed_port())
    queue_while_down(env, ["first", "second"])
    server = Server(root)
    try:
        env.set(port=server.port)
        result = env.run(["sendmail", "-i", "reject@example.org"], b"Subject: own\n\nnow\n")
        check_rc(result, EX_UNAVAILABLE)
        check("550" in result[2] and one_line(result[2]), result[2])
        messages = server.messages()
        subjects = sorted(header(eml, "Subject") for _, eml in messages)
        check(subjects == ["first", "second"], subjects)
        check(len({envelope["peer_port"] for envelope, _ in messages}) == 1,
              [envelope for envelope, _ in messages])
        check(env.queue_files() == [], env.queue_files())
    finally:
        server.stop()


def deferred_then_backlog(env, kill):
    """sendmail's own message is deferred (451 to its recipient) on a session that stays open,
    and the one queued entry follows on it; the relay holds the reply to that entry's content
    while the queue is looked at, then answers it, or the command is killed (SIGKILL) first.
    Returns (proc, the MAIL commands the relay received, the queue's subjects meanwhile)."""
    mails, during = [], []
    holding = threading.Event()

    def session(f, reply):
        mails.append(f.readline())
        f.readline()
        f.readline()
        reply("250 ok\r\n451 4.7.1 greylisted\r\n554 5.5.1 no valid recipients")
        while True:
            line = f.readline()
            if line.upper().startswith(b"RSET"):
                reply("250 reset")
                continue
            if not line.upper().startswith(b"MAIL"):
                if line:
                    reply("221 bye")
                return
            mails.append(line)
            f.readline()
            f.readline()
            reply("250 ok\r\n250 ok\r\n354 go on")
            while f.readline() not in (b".\r\n", b""):
                pass
            holding.set()
            if not release.wait(60) or kill:
                return
            reply("250 2.0.0 queued")

    release = threading.Event()
    listener, thread = slow_relay(session)
    try:
        env.set(port=listener.getsockname()[1])
        proc = env.popen(["sendmail", "-i", "ops@example.org"])
        proc.stdin.write(b"Subject: own\n\nnow\n")
        proc.stdin.close()
        check(holding.wait(60), "the backlog was not sent")
        during.extend(env.queue_subjects())
        if kill:
            proc.kill()
            proc.wait(timeout=60)
        release.set()
        thread.join(timeout=30)
    finally:
        listener.close()
    return proc, mails, during


def test_deferred_message_is_queued_before_the_backlog(root):
    # The command's own message is deferred (greylisting) on a session that stays open, and the
    # backlog goes on it. The backlog may take long (an entry's reply may take minutes): the
    # message is in the queue before it begins, not after, so a kill meanwhile loses nothing,
    # and the backlog does not send it again at once on the session that deferred it.
    env = Env(root, port=closed_port())
    queue_while_down(env, ["q0"])
    proc, mails, during = deferred_then_backlog(env, kill=False)
    proc.wait(timeout=60)
    err = proc.stderr.read().decode(errors="replace")
    proc.stdout.close()
    proc.stderr.close()
    check(sorted(during) == ["own", "q0"], f"not queued while the backlog ran: {during}")
    check(proc.returncode == EX_OK, (proc.returncode, err))
    check("451" in err and "queued as" in err and one_line(err), err)
    check(len(mails) == 2, mails)   # its own, then q0's: the deferred one not again
    left = env.queue_subjects()
    check(left == ["own"], left)

    # Killed (SIGKILL: a caller's `timeout -k`, the OOM killer) while the backlog waits.
    env = Env(root, port=closed_port())
    queue_while_down(env, ["q0"])
    proc, mails, during = deferred_then_backlog(env, kill=True)
    proc.stdout.close()
    proc.stderr.close()
    check("own" in during, f"not queued while the backlog ran: {during}")
    check(len(env.queue_files()) == 2, env.queue_files())


def test_flush_stops_at_a_silent_relay(root):
    # A relay that accepts connections and never answers (a hung server, a proxy in front of
    # a dead one): the flush gives up after the first entry's deadline instead of waiting
    # that long for every entry. Takes one reply deadline (30 s).
    env = Env(root, port=closed_port())
    queue_while_down(env, ["0", "1", "2"])
    check(len(env.queue_files()) == 3, env.queue_files())
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def accept_all():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            accepted.append(connection)   # kept open, never answered

    thread = threading.Thread(target=accept_all, daemon=True)
    thread.start()
    try:
        env.set(port=listener.getsockname()[1])
        result = env.run(["flush"])
        check_rc(result, EX_TEMPFAIL)
        check(len(accepted) == 1, f"{len(accepted)} connections to a relay that never answered")
        check(len(env.queue_files()) == 3, "an entry was lost")
    finally:
        listener.close()
        for connection in accepted:
            connection.close()


def test_concurrent_flushes_deliver_once(root):
    env = Env(root, port=closed_port())
    count = 8
    for i in range(count):
        check_rc(env.run(["send", "--to", "ops@example.org", "--subject", f"message {i}"],
                         b"x\n"), EX_OK)
    check(len(env.queue_files()) == count, "not all queued")
    server = Server(root)
    try:
        env.set(port=server.port)
        procs = [env.popen(["flush"]) for _ in range(3)]
        for proc in procs:
            proc.communicate(timeout=120)
            check(proc.returncode in (EX_OK, EX_TEMPFAIL), f"flush exited {proc.returncode}")
        subjects = sorted(header(eml, "Subject") for _, eml in server.messages())
        check(subjects == sorted(f"message {i}" for i in range(count)), subjects)
        check(env.queue_files() == [], "entries left")
    finally:
        server.stop()


def test_temporary_reply_queues_permanent_does_not(root):
    server = Server(root)
    try:
        env = Env(root, port=server.port)
        result = env.run(["send", "--to", "tempfail@example.org", "--subject", "x"], b"x\n")
        check_rc(result, EX_OK)
        check("451" in result[2] and "queued" in result[2], result[2])
        check(len(env.queue_files()) == 1, "4xx not queued")

        result = env.run(["send", "--to", "reject@example.org", "--subject", "x"], b"x\n")
        check_rc(result, EX_UNAVAILABLE)
        check("550" in result[2] and "User unknown" in result[2] and one_line(result[2]),
              result[2])
        # ...with what to do next on the same line, as `test` says it
        check("Check the recipient address" in result[2], result[2])
        check(len(env.queue_files()) == 1, "5xx queued")
        check(server.messages() == [], "delivered")
    finally:
        server.stop()


def test_no_keyring_queues_and_flush_uses_keyring(root):
    server = Server(root, auth="plain")
    try:
        env = Env(root, port=server.port, requires_auth=True, username=USER,
                  allow_plaintext_auth=True)
        result = env.run(["send", "--to", "ops@example.org", "--subject", "no keyring"],
                         b"x\n")
        check_rc(result, EX_OK)
        check("queued" in result[2] and "password" in result[2] and one_line(result[2]),
              result[2])
        # Said in the product's words, not GDBus's ("Cannot autolaunch D-Bus without X11").
        check("no desktop session" in result[2] and "autolaunch" not in result[2], result[2])
        files = env.queue_files()
        check(len(files) == 1, files)
        with open(files[0], "rb") as f:
            check(PASSWORD.encode() not in f.read(), "password in the spool")
        check(server.messages() == [], "sent without a password")

        # Still no keyring: the flush stops without a password and leaves the entry untouched.
        with open(files[0], "rb") as f:
            before = f.read()
        rc, _, err = env.run(["flush"])
        check(rc == EX_TEMPFAIL and "1 message still queued" in err and one_line(err), (rc, err))
        with open(files[0], "rb") as f:
            check(env.queue_files() == files and f.read() == before, "entry changed")
        check(server.messages() == [], "sent without a password")

        env.use_file_keyring()
        check_rc(env.run(["flush"]), EX_OK)
        messages = server.messages()
        check(len(messages) == 1 and header(messages[0][1], "Subject") == "no keyring",
              messages)
        check(env.queue_files() == [], "entry left")
    finally:
        server.stop()


def test_password_file(root):
    server = Server(root, auth="plain")
    try:
        path = os.path.join(root, "password-" + str(server.port))
        with open(path, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(path, 0o644)
        env = Env(root, port=server.port, requires_auth=True, username=USER,
                  allow_plaintext_auth=True, password_file=path)
        result = env.run(["send", "--to", "ops@example.org", "--subject", "x"], b"x\n")
        check_rc(result, EX_CONFIG)
        check("0600" in result[2] and one_line(result[2]), result[2])
        check(server.messages() == [] and env.queue_files() == [], "sent or queued")

        os.chmod(path, 0o600)
        check_rc(env.run(["send", "--to", "ops@example.org", "--subject", "file"], b"x\n"),
                 EX_OK)
        check(len(server.messages()) == 1, "not delivered with a private password file")

        # A symbolic link is refused (O_NOFOLLOW); the message says so, not "Too many levels
        # of symbolic links".
        link = path + ".link"
        os.symlink(path, link)
        env.set(password_file=link)
        result = env.run(["send", "--to", "ops@example.org", "--subject", "link"], b"x\n")
        check_rc(result, EX_CONFIG)
        check("symbolic link" in result[2] and "Too many levels" not in result[2], result[2])

        # A FIFO would block the reader until something writes to it: refused at once.
        fifo = path + ".fifo"
        os.mkfifo(fifo, 0o600)
        env.set(password_file=fifo)
        proc = env.popen(["send", "--to", "ops@example.org", "--subject", "fifo"])
        try:
            _, err = proc.communicate(b"x\n", timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise AssertionError("send waits for a writer to the FIFO password file")
        check(proc.returncode == EX_CONFIG and b"not a regular file" in err, err)
    finally:
        server.stop()


def test_flush_without_a_user_name_sends_nothing(root):
    """A login required but no user name: the client would send without AUTH and a strict
    relay refuse each message for good (set aside); the flush stops at the setting instead."""
    env = Env(root, port=closed_port())
    check_rc(env.run(["send", "--to", "ops@example.org", "--subject", "x"], b"x\n"), EX_OK)
    server = Server(root)
    try:
        env.set(port=server.port, requires_auth=True, username="")
        result = env.run(["flush"])
        check_rc(result, EX_CONFIG)
        check("no user name" in result[2], result[2])
        check(server.messages() == [] and len(env.queue_files()) == 1, "sent or dropped")
    finally:
        server.stop()


def test_flush_skips_an_entry_another_flush_holds(root):
    import fcntl
    env = Env(root, port=closed_port())
    check_rc(env.run(["send", "--to", "ops@example.org", "--subject", "held"], b"x\n"), EX_OK)
    check_rc(env.run(["send", "--to", "ops@example.org", "--subject", "free"], b"x\n"), EX_OK)
    def subject_of(path):
        with open(path, "rb") as f:
            return header(f.read().split(b"\n\n", 1)[1], "Subject")
    # Ids sort by the second they were queued in, then at random: find the entry by content.
    held = [p for p in env.queue_files() if subject_of(p) == "held"][0]
    server = Server(root)
    try:
        env.set(port=server.port)
        # This process plays a flush that is delivering the first entry right now.
        with open(held, "rb") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            check_rc(env.run(["flush"]), EX_TEMPFAIL)
            subjects = [header(eml, "Subject") for _, eml in server.messages()]
            check(subjects == ["free"], subjects)
            check(env.queue_files() == [held], env.queue_files())
        check_rc(env.run(["flush"]), EX_OK)
        subjects = [header(eml, "Subject") for _, eml in server.messages()]
        check(subjects == ["free", "held"], subjects)
    finally:
        server.stop()


def test_terminated_while_sending_queues(root):
    # A relay that accepts the connection and says nothing: the send waits for its greeting
    # when shutdown, a service's stop timeout or `timeout` sends SIGTERM (or Ctrl+C, SIGINT).
    import signal
    import threading
    for signum, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        connected = threading.Event()
        held = []

        def accept():
            listener.settimeout(60)
            conn, _ = listener.accept()
            held.append(conn)
            connected.set()
        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            env = Env(root, port=listener.getsockname()[1])
            proc = env.popen(["sendmail", "-i", "ops@example.org"])
            proc.stdin.write(b"Subject: backup failed\n\nDisk full\n")
            proc.stdin.close()
            check(connected.wait(60), "never connected")
            if signum == signal.SIGTERM:
                # It holds the password now: no core file may keep it.
                # (soft and hard limit 0; the hard one is unlimited by default)
                with open(f"/proc/{proc.pid}/limits", encoding="utf-8") as f:
                    core = [l.split()[4:6] for l in f if l.startswith("Max core file size")]
                check(core == [["0", "0"]], core)
            rc, err = signal_and_wait(proc, signum)
            check(rc == EX_OK and "queued" in err and name in err and one_line(err), (rc, err))
            files = env.queue_files()
            check(len(files) == 1, "the alert was lost")
            with open(files[0], "rb") as f:
                check(b"Disk full" in f.read(), "queued without its body")
        finally:
            for conn in held:
                conn.close()
            listener.close()


def test_terminated_after_the_message_waits_for_the_reply(root):
    # The whole message is written and the relay takes a moment to answer (a content scan):
    # a SIGTERM then waits for that answer rather than queue a copy the relay is delivering.
    import signal
    received = threading.Event()
    answered = []

    def session(f, reply):
        for _ in range(3):   # MAIL, RCPT, DATA
            f.readline()
        reply("250 ok\r\n250 ok\r\n354 go on")
        while f.readline() not in (b".\r\n", b""):
            pass
        received.set()
        time.sleep(2)
        reply("250 2.0.0 queued as SLOW1")
        answered.append(True)
        f.readline()
        reply("221 bye")

    listener, _ = slow_relay(session)
    try:
        env = Env(root, port=listener.getsockname()[1])
        proc = env.popen(["sendmail", "-i", "ops@example.org"])
        proc.stdin.write(b"Subject: scanned\n\nslowly\n")
        proc.stdin.close()
        check(received.wait(60), "the message never arrived")
        rc, err = signal_and_wait(proc, signal.SIGTERM)
        check(rc == EX_OK and "queued" not in err, (rc, err))
        check(answered == [True] and env.queue_files() == [], "queued a message being delivered")
    finally:
        listener.close()


def test_terminated_during_the_backlog_stops_it(root):
    # The command's message went through and the backlog follows on its session: a SIGTERM
    # then lets the entry being sent get its reply, and begins no other. Going on would send
    # for the whole grace period and cut an entry short after its end, which the relay
    # delivers while the entry stays queued: sent twice.
    import signal
    env = Env(root, port=closed_port())
    queue_while_down(env, ["q0", "q1", "q2"])
    second = threading.Event()
    signalled = threading.Event()
    delivered, after_signal = [], []

    def session(f, reply):
        while True:
            line = f.readline()
            if not line.upper().startswith(b"MAIL"):
                if line:
                    reply("221 bye")
                return
            if signalled.is_set():
                after_signal.append(line)
            f.readline()
            f.readline()
            reply("250 ok\r\n250 ok\r\n354 go on")
            body = b""
            while (line := f.readline()) not in (b".\r\n", b""):
                body += line
            delivered.append(header(body, "Subject"))
            if len(delivered) == 2:
                second.set()
                signalled.wait(60)
            time.sleep(1)   # a content scan
            reply("250 2.0.0 queued")

    listener, thread = slow_relay(session)
    try:
        env.set(port=listener.getsockname()[1])
        proc = env.popen(["sendmail", "-i", "ops@example.org"])
        proc.stdin.write(b"Subject: own\n\nnow\n")
        proc.stdin.close()
        check(second.wait(60), "the backlog was not sent")
        start = time.monotonic()
        signalled.set()   # the server holds its reply 1 s after this: nothing is sent meanwhile
        rc, err = signal_and_wait(proc, signal.SIGTERM)
        check(rc == EX_OK and err == "", (rc, err))
        check(after_signal == [], f"{len(after_signal)} entries begun after SIGTERM")
        check(time.monotonic() - start < 10, "waited out the grace period")
        thread.join(timeout=30)
        left = env.queue_subjects()
        check(len(left) == 2 and not set(left) & set(delivered), (delivered, left))
    finally:
        listener.close()


def test_backlog_has_a_time_budget(root):
    # The program that calls sendmail waits for the backlog that goes along: after 10 s no
    # further entry begins (the one being sent gets its reply), and the rest stays queued for
    # the next send, the timer or the window. Here each entry takes 4 s (a content scan): two
    # or three of five go, in 10–14 s.
    env = Env(root, port=closed_port())
    queue_while_down(env, [f"q{i}" for i in range(5)])
    delivered = []

    def session(f, reply):
        while True:
            line = f.readline()
            if not line.upper().startswith(b"MAIL"):
                if line:
                    reply("221 bye")
                return
            f.readline()
            f.readline()
            reply("250 ok\r\n250 ok\r\n354 go on")
            body = b""
            while (line := f.readline()) not in (b".\r\n", b""):
                body += line
            delivered.append(header(body, "Subject"))
            if len(delivered) > 1:
                time.sleep(4)
            reply("250 2.0.0 queued")

    listener, thread = slow_relay(session)
    try:
        env.set(port=listener.getsockname()[1])
        start = time.monotonic()
        result = env.run(["sendmail", "-i", "ops@example.org"], b"Subject: own\n\nnow\n")
        took = time.monotonic() - start
        check_rc(result, EX_OK)
        check(result[2] == "", result[2])
        thread.join(timeout=30)
        check(delivered[0] == "own" and 2 <= len(delivered) - 1 < 5, delivered)
        check(took < 25, f"took {took:.1f} s")
        left = env.queue_subjects()
        check(sorted(left + delivered[1:]) == [f"q{i}" for i in range(5)], (delivered, left))
    finally:
        listener.close()


def test_keyring_password_with_a_line_end(root):
    # `echo PASSWORD | secret-tool store …` stores the line's end too: it is no part of the
    # password. Any other control character is a setting to fix (78), and a flush then keeps
    # every queued alert, rather than set each aside as "refused".
    server = Server(root, auth="plain")
    try:
        env = Env(root, port=closed_port(), requires_auth=True, username=USER,
                  allow_plaintext_auth=True)
        env.use_file_keyring(PASSWORD + "\n")
        env.set(port=server.port)
        check_rc(env.run(["send", "--to", "ops@example.org", "--subject", "echoed"], b"x\n"),
                 EX_OK)
        check(len(server.messages()) == 1, "not delivered with the echoed password")

        env.set(port=closed_port())
        check_rc(env.run(["send", "--to", "ops@example.org", "--subject", "one"], b"x\n"), EX_OK)
        check_rc(env.run(["send", "--to", "ops@example.org", "--subject", "two"], b"x\n"), EX_OK)
        check(len(env.queue_files()) == 2, env.queue_files())
        env.use_file_keyring("pass\x01word")
        env.set(port=server.port)
        rc, _, err = env.run(["flush"])
        check(rc == EX_CONFIG and "control character" in err, (rc, err))
        check(len(env.queue_files()) == 2, "queued alerts set aside")
        rc, out, _ = env.run(["queue", "--failed"])
        check("No refused messages" in out, out)
    finally:
        server.stop()


def test_sendmail_dot_line_ends_the_message(root):
    # Without -i a line of a single "." ends the message, as in sendmail: the message goes at
    # once, although the input stays open (a terminal, a script's pipe).
    server = Server(root)
    try:
        env = Env(root, port=server.port)
        proc = env.popen(["sendmail", "ops@example.org"])
        proc.stdin.write(b"Subject: dot\n\nbefore\n.\n")
        proc.stdin.flush()
        try:
            rc = proc.wait(timeout=60)
        finally:
            proc.stdin.close()
            proc.stdout.close()
            proc.stderr.close()
        check(rc == EX_OK, rc)
        messages = server.messages()
        check(len(messages) == 1 and b"before" in messages[0][1], messages)
    finally:
        server.stop()


def test_refused_on_flush_is_set_aside(root):
    env = Env(root, port=closed_port())
    check_rc(env.run(["send", "--to", "reject@example.org", "--subject", "x"], b"x\n"), EX_OK)
    check_rc(env.run(["send", "--to", "ops@example.org", "--subject", "y"], b"x\n"), EX_OK)
    # sendmail -bp and a link named mailq list the queue too.
    rc, out, _ = env.run(["sendmail", "-bp"])
    check(rc == 0 and "reject@example.org" in out and "ops@example.org" in out, out)
    rc, out, _ = env.run([], argv0="mailq")
    check(rc == 0 and "2 messages" in out, out)
    # ...whatever its sendmail options: Postfix's mailq takes -v, monitoring checks pass it
    rc, out, _ = env.run(["-v"], argv0="mailq")
    check(rc == 0 and "2 messages" in out, out)
    server = Server(root)
    try:
        env.set(port=server.port)
        result = env.run(["flush"])
        check_rc(result, EX_UNAVAILABLE)
        check("refused" in result[2], result[2])
        check(len(server.messages()) == 1, "the good message was not sent")
        check(env.queue_files() == [], "the refused message is still queued")
        rc, out, _ = env.run(["queue", "--failed"])
        check(rc == 0 and "reject@example.org" in out and "550" in out, out)
        check_rc(env.run(["flush"]), EX_OK)
        check(len(server.messages()) == 1, "retried")
    finally:
        server.stop()


def keyring_test_real_keyring_sends_at_once(root):
    server = Server(root, auth="plain")
    try:
        env = Env(root, port=server.port, requires_auth=True, username=USER,
                  allow_plaintext_auth=True)
        env.store_in_real_keyring()
        result = env.run(["sendmail", "-t"], b"To: ops@example.org\nSubject: keyring\n\nx\n")
        check_rc(result, EX_OK)
        check(result[2] == "", result[2])
        check(len(server.messages()) == 1 and env.queue_files() == [], "not sent at once")
    finally:
        server.stop()


class OneSessionServer:
    """One scripted SMTP session on 127.0.0.1 (no PIPELINING, AUTH PLAIN), in a thread, that
    records when EHLO arrived: before or after the test let the keyring answer."""

    def __init__(self):
        import threading
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.ehlo_seen = threading.Event()
        self.auth_line = None
        self.message = None
        self.error = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            self.sock.settimeout(60)
            conn, _ = self.sock.accept()
            with conn, conn.makefile("rwb") as f:
                def reply(text):
                    f.write(text.encode() + b"\r\n")
                    f.flush()
                reply("220 scripted ESMTP")
                line = f.readline()
                if not line.upper().startswith((b"EHLO", b"HELO")):
                    raise RuntimeError(f"expected EHLO, got {line!r}")
                reply("250-scripted\r\n250 AUTH PLAIN")
                self.ehlo_seen.set()
                self.auth_line = f.readline().decode(errors="replace").strip()
                reply("235 2.7.0 Authentication successful")
                for expect in (b"MAIL", b"RCPT"):
                    if not f.readline().upper().startswith(expect):
                        raise RuntimeError(f"expected {expect!r}")
                    reply("250 OK")
                if not f.readline().upper().startswith(b"DATA"):
                    raise RuntimeError("expected DATA")
                reply("354 go on")
                body = b""
                while not body.endswith(b"\r\n.\r\n"):
                    chunk = f.readline()
                    if not chunk:
                        raise RuntimeError("connection closed in DATA")
                    body += chunk
                self.message = body
                reply("250 2.0.0 queued as scripted")
                f.readline()
                reply("221 bye")
        except Exception as e:   # reported by the test, not lost in the thread
            self.error = repr(e)
        finally:
            self.sock.close()


def run_with_keyring_stopped(env, server, args, data):
    """Runs `smtp-relay ARGS` while the keyring daemon is stopped (SIGSTOP) until the server has
    seen EHLO or 30 s have passed. Returns whether EHLO came first, the exit code and stderr."""
    import signal
    owner = subprocess.run(["gdbus", "call", "--session", "--dest", "org.freedesktop.DBus",
                            "--object-path", "/org/freedesktop/DBus", "--method",
                            "org.freedesktop.DBus.GetConnectionUnixProcessID",
                            "org.freedesktop.secrets"],
                           env=env.env, capture_output=True, text=True, timeout=60)
    check(owner.returncode == 0, f"keyring daemon's pid: {owner.stderr!r}")
    daemon = int(owner.stdout.strip().strip("(),").split()[-1])
    os.kill(daemon, signal.SIGSTOP)
    try:
        proc = env.popen(args)
        proc.stdin.write(data)
        proc.stdin.close()
        proc.stdin = None   # so that communicate() below does not flush it
        seen = server.ehlo_seen.wait(timeout=30)
    finally:
        os.kill(daemon, signal.SIGCONT)
    _, err = proc.communicate(timeout=120)
    server.thread.join(timeout=60)
    return seen, proc.returncode, err


def check_overlapped_delivery(env, server, seen, rc, err, subject):
    import base64
    check(seen, "no EHLO until the keyring answered: the password was read before connecting")
    check(rc == EX_OK and server.error is None, (rc, err, server.error))
    expected = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    check(server.auth_line == f"AUTH PLAIN {expected}", "wrong AUTH")
    check(server.message is not None and f"Subject: {subject}".encode() in server.message,
          server.message)
    check(env.queue_files() == [], "left in the queue")


def keyring_test_send_connects_while_keyring_answers(root):
    """`send` reads the keyring while it connects: with the keyring daemon stopped, the server
    still gets EHLO; once the daemon goes on, the message goes out with its password."""
    server = OneSessionServer()
    env = Env(root, port=server.port, requires_auth=True, username=USER,
              allow_plaintext_auth=True)
    env.store_in_real_keyring()
    seen, rc, err = run_with_keyring_stopped(
        env, server, ["send", "--to", "ops@example.org", "--subject", "overlap"], b"x\n")
    check_overlapped_delivery(env, server, seen, rc, err, "overlap")


def keyring_test_flush_connects_while_keyring_answers(root):
    """`flush` too reads the keyring while its first entry's send connects."""
    env = Env(root, port=closed_port(), requires_auth=True, username=USER,
              allow_plaintext_auth=True)
    env.store_in_real_keyring()
    result = env.run(["send", "--to", "ops@example.org", "--subject", "queued overlap"], b"x\n")
    check_rc(result, EX_OK)
    check(len(env.queue_files()) == 1, "not queued while the relay was down")
    server = OneSessionServer()
    env.set(port=server.port)
    seen, rc, err = run_with_keyring_stopped(env, server, ["flush"], b"")
    check_overlapped_delivery(env, server, seen, rc, err, "queued overlap")


def keyring_test_locked_keyring_queues(root):
    # Last of the keyring tests: the keyring stays locked (no display to unlock it again).
    server = Server(root, auth="plain")
    try:
        env = Env(root, port=server.port, requires_auth=True, username=USER,
                  allow_plaintext_auth=True)
        env.store_in_real_keyring()
        proc = subprocess.run(["gdbus", "call", "--session", "--dest", "org.freedesktop.secrets",
                               "--object-path", "/org/freedesktop/secrets",
                               "--method", "org.freedesktop.Secret.Service.Lock",
                               "[objectpath '/org/freedesktop/secrets/aliases/default']"],
                              env=env.env, capture_output=True, timeout=60)
        check(proc.returncode == 0, f"locking the keyring: {proc.stderr!r}")
        # No display: the unlock prompt fails at once, so the message waits in the queue.
        result = env.run(["send", "--to", "ops@example.org", "--subject", "locked"], b"x\n")
        check_rc(result, EX_OK)
        check("queued" in result[2] and one_line(result[2]), result[2])
        check(server.messages() == [] and len(env.queue_files()) == 1, "not queued")
        # A locked item is not "no password stored": a test says the keyring is locked and
        # is worth trying again (75), not "store the password" (78).
        result = env.run(["test", "--to", "ops@example.org"])
        check_rc(result, EX_TEMPFAIL)
        check("locked" in result[2] and "No password" not in result[2], result[2])
        check(server.messages() == [], "sent without the password")
    finally:
        server.stop()


PREFIX = "keyring_test_" if REAL_KEYRING else "test_"
TESTS = [v for k, v in list(globals().items()) if k.startswith(PREFIX)]


def main():
    print(f"1..{len(TESTS)}", flush=True)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="relay-cli-") as root:
        for number, test in enumerate(TESTS, 1):
            name = test.__name__[len(PREFIX):]
            try:
                test(root)
                print(f"ok {number} - {name}", flush=True)
            except Skip as skip:
                print(f"ok {number} - {name} # SKIP {skip}", flush=True)
            except Exception:
                failed += 1
                print(f"not ok {number} - {name}", flush=True)
                for line in traceback.format_exc().splitlines():
                    print(f"# {line}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    if shutil.which("secret-tool") is None:
        pass   # only the file-keyring step skips
    sys.exit(main())

#!/usr/bin/python3
# test-ui-module.py: the command-line modes start without GTK, and all but `detect` without
# libsoup, the window too; the window and Detect load them from their modules, and say so clearly when a module
# is missing; a mistyped command gets the list of commands, not the window
#
# cron, mail(1) and alert scripts start `smtp-relay sendmail` or `send` for every message:
# linking GTK and libadwaita would add about 18 ms to each, libsoup about 3 ms. The dynamic
# loader's own report (LD_DEBUG=files) tells which libraries a process really loaded.
# Usage: test-ui-module.py SMTP_RELAY SCHEMA_DIR     (prints TAP)
#
# SPDX-License-Identifier: GPL-3.0-or-later

import os
import re
import shutil
import subprocess
import sys
import tempfile

binary, schema_dir = sys.argv[1:3]
results = []
GTK_LIBRARIES = ("libgtk-4.so", "libadwaita-1.so")
SOUP = "libsoup-3.0.so"


def ok(condition, name, detail=""):
    results.append(condition)
    print(f"{'ok' if condition else 'not ok'} {len(results)} {name}")
    if not condition and detail:
        for line in str(detail).splitlines()[-40:]:
            print(f"# {line}")


def run(args, program=binary, debug=True):
    env = dict(os.environ, GSETTINGS_SCHEMA_DIR=schema_dir, GSETTINGS_BACKEND="memory")
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    if debug:
        env["LD_DEBUG"] = "files"
    return subprocess.run([program] + args, env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def loaded(proc, library):
    # "file=libgtk-4.so.1 [0];  needed by ..." or "file=/…/smtp-relay-ui.so [0];  dynamically loaded by ..."
    return any(f"file={library}" in line or (f"/{library}" in line and "file=" in line)
               for line in proc.stderr.splitlines())


# Each command-line mode, with arguments that end it at once: none of them loads GTK, and only
# Detect loads libsoup.
for args in (["test", "--help"], ["send", "--help"], ["detect", "--help"], ["queue", "--help"],
             ["flush", "--help"], ["sendmail", "-bv", "root"]):
    proc = run(args)
    gtk = [lib for lib in GTK_LIBRARIES if loaded(proc, lib)]
    ok(not gtk and not loaded(proc, "smtp-relay-ui.so"),
       f"`smtp-relay {' '.join(args)}` loads neither GTK nor the window's module",
       f"loaded: {gtk}\n{proc.stderr}")
    if args[0] == "detect":
        ok(proc.returncode == 0 and "--apply" in proc.stdout
           and loaded(proc, "smtp-relay-detect.so") and loaded(proc, SOUP),
           "`smtp-relay detect` runs from its module, with libsoup",
           f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    else:
        ok(not loaded(proc, SOUP) and not loaded(proc, "smtp-relay-detect.so"),
           f"`smtp-relay {' '.join(args)}` does not load libsoup", proc.stderr)

# The window's path (here only as far as --help, which needs no display) loads the module from
# beside the executable in the build tree, and GTK with it.
proc = run(["--help"])
ok(proc.returncode == 0 and "--help" in proc.stdout, "`smtp-relay --help` runs the application",
   f"exit {proc.returncode}\n{proc.stdout}")
ok(loaded(proc, "smtp-relay-ui.so") and all(loaded(proc, lib) for lib in GTK_LIBRARIES),
   "the window's path loads the module, and GTK with it", proc.stderr)

# The window itself, to its first frame: GTK and the window's module, but not Detect's module nor
# libsoup, which the window opens at its first Detect (a few ms and 1.3 MiB less at each start).
if os.environ.get("DISPLAY"):
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, GSETTINGS_SCHEMA_DIR=schema_dir, GSETTINGS_BACKEND="memory",
                   LD_DEBUG="files", RELAY_BENCH_EXIT_AFTER_FIRST_FRAME="1", NO_AT_BRIDGE="1",
                   GDK_BACKEND="x11", XDG_CONFIG_HOME=os.path.join(home, "config"),
                   XDG_DATA_HOME=os.path.join(home, "data"),
                   XDG_CACHE_HOME=os.path.join(home, "cache"))
        env.pop("WAYLAND_DISPLAY", None)
        proc = subprocess.run([binary], env=env, capture_output=True, text=True, timeout=60,
                              check=False)
    ok(proc.returncode == 0 and "first-frame-us=" in proc.stdout + proc.stderr
       and loaded(proc, "smtp-relay-ui.so")
       and not loaded(proc, SOUP) and not loaded(proc, "smtp-relay-detect.so"),
       "the window draws its first frame without loading libsoup or Detect's module",
       f"exit {proc.returncode}\n"
       + "\n".join(l for l in proc.stderr.splitlines() if "file=" in l or "first" in l))
else:
    print("# no display: run under xvfb-run -a, or use build-aux/test.sh")
    ok(True, "the window without libsoup # SKIP no display")

# `smtp-relay --help` is where someone at a terminal looks: it lists every command.
COMMANDS = ("test", "send", "sendmail", "detect", "queue", "flush")
proc = run(["--help"], debug=False)
ok(all(f"\n  {c} " in proc.stdout for c in COMMANDS), "`smtp-relay --help` lists the commands",
   proc.stdout)

# --version, for a support request: one line, no display needed.
proc = run(["--version"], debug=False)
ok(proc.returncode == 0 and re.fullmatch(r"smtp-relay \d+\.\d+\.\d+\n", proc.stdout) is not None,
   "`smtp-relay --version` prints the version", f"exit {proc.returncode}\n{proc.stdout}{proc.stderr}")

# A mistyped command, from a script or over ssh, is a usage error (64) that lists the commands,
# without GTK: not a window, nor "cannot open display".
proc = run(["sned", "--to", "ops@example.org"])
ok(proc.returncode == 64 and "unknown command “sned”" in proc.stderr
   and all(f"\n  {c} " in proc.stderr for c in COMMANDS)
   and not any(loaded(proc, lib) for lib in GTK_LIBRARIES)
   and "display" not in proc.stderr,
   "a mistyped command is a usage error that lists the commands", f"exit {proc.returncode}\n"
   + "\n".join(l for l in proc.stderr.splitlines() if "file=" not in l))

# What the command line prints may quote what it was given: no escape sequence reaches the
# terminal (here one that would set its title).
proc = run(["sn\x1b]0;owned\x07ed"], debug=False)
ok(proc.returncode == 64 and "\x1b" not in proc.stderr and "\x07" not in proc.stderr
   and "sn?]0;owned?ed" in proc.stderr,
   "control characters in what stderr quotes are shown as ?", repr(proc.stderr))

# build-aux/run.sh starts the build tree's binary through `meson devenv`, which names the build
# tree's catalogues: the user's language before anything is installed.
po_dir = os.path.join(os.path.dirname(schema_dir), "po")
env = dict(os.environ, GSETTINGS_SCHEMA_DIR=schema_dir, LANGUAGE="de",
           SMTP_RELAY_BUILD_LOCALEDIR=po_dir)
proc = subprocess.run(["meson", "devenv", "-C", os.path.dirname(schema_dir), "env"], env=env,
                      capture_output=True, text=True, timeout=60, check=False)
devenv_dir = re.search(r"^SMTP_RELAY_BUILD_LOCALEDIR=(.*)$", proc.stdout, re.M)
ok(devenv_dir is not None and os.path.samefile(devenv_dir.group(1), po_dir),
   "`meson devenv` names the build tree's catalogues", proc.stdout + proc.stderr)
proc = subprocess.run([binary, "sned"], env=env, capture_output=True, text=True, timeout=60,
                      check=False)
ok(proc.returncode == 64 and "Unbekannter Befehl „sned“" in proc.stderr,
   "the build tree's binary speaks the user's language from the build tree's catalogues",
   f"exit {proc.returncode}\n{proc.stderr}")

# Without its module (a binary copied away from the build tree, not installed either), the
# window is refused with one line that names the missing file, not a crash.
with tempfile.TemporaryDirectory() as scratch:
    lonely = os.path.join(scratch, "smtp-relay")
    shutil.copy2(binary, lonely)
    proc = run([], program=lonely, debug=False)
    ok(proc.returncode == 1 and "installation is incomplete" in proc.stderr
       and "smtp-relay-ui.so" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1,
       "a missing module is reported in one line that names it", f"exit {proc.returncode}\n{proc.stderr}")
    # The command line does not need the module at all.
    proc = run(["test", "--help"], program=lonely, debug=False)
    ok(proc.returncode == 0, "the command line works without the module", proc.stderr)
    # Not in the build tree, not installed: the build tree's catalogues are not its own.
    proc = subprocess.run([lonely, "sned"], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    ok(proc.returncode == 64 and "unknown command" in proc.stderr
       and "Unbekannter" not in proc.stderr,
       "a binary outside the build tree ignores the build tree's catalogues", proc.stderr)
    # Detect without its module: EX_OSFILE (72) and one line that names the file.
    proc = run(["detect", "--help"], program=lonely, debug=False)
    ok(proc.returncode == 72 and "installation is incomplete" in proc.stderr
       and "smtp-relay-detect.so" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1,
       "a missing Detect module is reported in one line that names it",
       f"exit {proc.returncode}\n{proc.stderr}")

print(f"1..{len(results)}")
sys.exit(0 if all(results) else 1)

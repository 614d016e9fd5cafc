#!/usr/bin/python3
"""window-bench.py: start-up time to the first drawn frame and peak resident memory of SMTP Relay,
against a minimal libadwaita window (tests/bench/minimal-window.c) in the same run.

    tests/bench/window-bench.py [--build _build] [--runs 15] [--json FILE] [--trace]

Both programs run under one private Xvfb (GDK_BACKEND=x11) and one private D-Bus session, one
after the other, alternating, after two untimed warm-up runs each. Each exits from its first
"after-paint" (RELAY_BENCH_EXIT_AFTER_FIRST_FRAME=1, src/relay-bench.c) and prints the monotonic
time and VmHWM; the time counts from just before the exec. SMTP Relay runs with a configured
server, login on, and the password in a libsecret file keyring, as a user's would be, so a
start-up that waited for the keyring or DNS would show. Prints medians and the ratios.

The minimal window also runs at SMTP Relay's default size (RELAY_BENCH_REFERENCE_SIZE): the
first frame of a larger window costs more pixels, and that run separates what the size costs
from what the content costs. The target is judged against the minimal window at its own size.

With --trace, all three also print their start-up steps (RELAY_BENCH_TRACE=1, src/relay-bench.c),
and the medians of each step show where the difference comes from; one more, untimed run of
each counts the text that Pango shapes before the first frame (tests/bench/shape-count.c).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import summarize  # noqa: E402  (the one printer of these figures, for run-all.sh too)


def run_once(argv, env, marks=None):
    t0 = time.monotonic_ns() // 1000
    proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60, check=False)
    out = proc.stdout.decode()
    fields = dict(kv.split("=", 1) for line in out.splitlines() if line.startswith("first-frame-us=")
                  for kv in line.split())
    if "first-frame-us" not in fields:
        raise RuntimeError(f"{argv[0]} printed no first frame: {out!r}")
    if marks is not None:
        seen = set()
        for line in proc.stderr.decode(errors="replace").splitlines():
            parts = line.split()
            # The first of each: "layout-done" and "paint-done" of the first frame.
            if len(parts) == 3 and parts[0] == "mark" and parts[1] not in seen:
                seen.add(parts[1])
                marks.setdefault(parts[1], []).append((int(parts[2]) - t0) / 1000.0)
    return (int(fields["first-frame-us"]) - t0) / 1000.0, int(fields["vmhwm-kb"]) / 1024.0


def default_window_size():
    """SMTP Relay's default window size, from its schema: the bench starts it with no saved size."""
    schema = ET.parse(os.path.join(SRC, "data", "io.github.smtprelay.SmtpRelay.gschema.xml"))
    size = {key.get("name"): key.findtext("default").strip() for key in schema.iter("key")}
    return f"{size['window-width']}x{size['window-height']}"


def count_shaping(argv, env):
    """hb_shape_full() calls and characters before the first frame (shape-count.c)."""
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          timeout=60, check=False)
    for line in proc.stderr.decode(errors="replace").splitlines():
        if line.startswith("shaping "):
            return {k: int(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
    raise RuntimeError(f"{argv[0]}: no shaping count")


def start_xvfb():
    r, w = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-nolisten", "tcp", "-screen", "0",
                             "1280x800x24"], pass_fds=(w,), stderr=subprocess.DEVNULL)
    os.close(w)
    with os.fdopen(r) as f:
        display = f.readline().strip()
    return xvfb, ":" + display


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(SRC, "_build"))
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--json", help="write the figures here as JSON too")
    ap.add_argument("--trace", action="store_true",
                    help="also print the median time of each start-up step of both programs")
    args = ap.parse_args()
    build = os.path.abspath(args.build)

    if "RELAY_BENCH_IN_DBUS" not in os.environ and shutil.which("dbus-run-session"):
        os.environ["RELAY_BENCH_IN_DBUS"] = "1"
        os.execvp("dbus-run-session", ["dbus-run-session", "--", sys.executable] + sys.argv)

    subprocess.run(["meson", "compile", "-C", build, "smtp-relay", "smtp-relay-ui",
                    "bench-minimal-window", "bench-shape-count"], check=True,
                   stdout=subprocess.DEVNULL)
    relay = os.path.join(build, "src", "smtp-relay")
    minimal = os.path.join(build, "tests", "bench", "bench-minimal-window")
    size = default_window_size()

    tmp = tempfile.mkdtemp(prefix="relay-window-bench.")
    xvfb = None
    try:
        os.makedirs(os.path.join(tmp, "config", "glib-2.0", "settings"))
        with open(os.path.join(tmp, "config", "glib-2.0", "settings", "keyfile"), "w") as f:
            f.write("[io/github/smtprelay/SmtpRelay]\nserver='smtp.example.com'\n"
                    "security='starttls'\nrequires-auth=true\nusername='bench'\n"
                    "sender='bench@example.com'\ntest-recipient='sink@example.com'\n")
        env = dict(os.environ)
        env.update({
            "GDK_BACKEND": "x11", "XDG_CONFIG_HOME": os.path.join(tmp, "config"),
            "XDG_DATA_HOME": os.path.join(tmp, "data"), "XDG_CACHE_HOME": os.path.join(tmp, "cache"),
            "GSETTINGS_BACKEND": "keyfile", "GSETTINGS_SCHEMA_DIR": os.path.join(build, "data"),
            "SECRET_BACKEND": "file", "SECRET_FILE_TEST_PATH": os.path.join(tmp, "keyring"),
            "SECRET_FILE_TEST_PASSWORD": "bench", "RELAY_BENCH_EXIT_AFTER_FIRST_FRAME": "1",
        })
        if args.trace:
            env["RELAY_BENCH_TRACE"] = "1"
        subprocess.run(["secret-tool", "store", "--label=bench", "xdg:schema",
                        "io.github.smtprelay.SmtpRelay", "server", "smtp.example.com",
                        "user", "bench"], input=b"bench-pass", env=env, check=True)
        xvfb, env["DISPLAY"] = start_xvfb()

        sized_env = dict(env, RELAY_BENCH_REFERENCE_SIZE=size)
        progs = [("minimal", minimal, env), ("sized", minimal, sized_env), ("relay", relay, env)]
        results = {name: ([], []) for name, _, _ in progs}
        marks = {name: {} for name, _, _ in progs}
        shaping = {}
        for _ in range(args.warmup):
            for _, exe, prog_env in progs:
                run_once([exe], prog_env)
        for _ in range(args.runs):
            for name, exe, prog_env in progs:
                ms, rss = run_once([exe], prog_env, marks[name] if args.trace else None)
                results[name][0].append(ms)
                results[name][1].append(rss)
        if args.trace:
            shim = os.path.join(build, "tests", "bench", "bench-shape-count.so")
            for name, exe, prog_env in progs:
                shaping[name] = count_shaping([exe], dict(prog_env, LD_PRELOAD=shim))
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: (statistics.median(v[0]), statistics.median(v[1])) for k, v in results.items()}
    out = {
        # GTK's default under Xvfb is GL (llvmpipe); GSK_RENDERER=cairo draws in software.
        "renderer": os.environ.get("GSK_RENDERER") or "gl",
        "runs": args.runs,
        "minimal_first_frame_ms": round(med["minimal"][0], 1),
        "relay_first_frame_ms": round(med["relay"][0], 1),
        "first_frame_ratio": round(med["relay"][0] / med["minimal"][0], 3),
        "minimal_vmhwm_mib": round(med["minimal"][1], 1),
        "relay_vmhwm_mib": round(med["relay"][1], 1),
        "vmhwm_ratio": round(med["relay"][1] / med["minimal"][1], 3),
        "same_size": size,
        "sized_first_frame_ms": round(med["sized"][0], 1),
        "sized_first_frame_ratio": round(med["relay"][0] / med["sized"][0], 3),
        "sized_vmhwm_mib": round(med["sized"][1], 1),
        "samples": {k: {"first_frame_ms": [round(x, 1) for x in v[0]],
                        "vmhwm_mib": [round(x, 1) for x in v[1]]} for k, v in results.items()},
    }
    if args.trace:
        out["steps_ms"] = {k: {step: round(statistics.median(v), 1) for step, v in m.items()}
                           for k, m in marks.items()}
        out["shaping"] = shaping
    summarize.print_window(out)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""summarize.py: the issue-9 figures of one run-all.sh run, as ratios against the anchors of the
same run, with the targets.

    tests/bench/summarize.py OUTDIR

OUTDIR holds smtp/results.json (smtp-rtt.sh), gaps-*.jsonl (one line per window run, from
src/relay-bench.c) and window.json (window-bench.py).
"""
import json
import os
import statistics
import sys

OURS = "smtp-relay"
FLUSH = OURS + "-flush"   # then the number of messages: see relay-test-cmd.sh


def smtp(out):
    path = os.path.join(out, "smtp", "results.json")
    if not os.path.exists(path):
        return
    res = json.load(open(path))
    rtt = res["rtt_ms"]
    rows = [r for r in res["rows"] if r.get("median_ms") is not None]
    flushes = [r for r in rows if r["client"].startswith(FLUSH)]
    rows = [r for r in rows if r not in flushes]
    print(f"SMTP submission, 40 ms link (measured RTT {rtt:.1f} ms), median of {res['runs']} runs")
    print("  lower bound (DATA; BDAT one less): starttls 9 RTT, implicit 7 RTT")
    print(f"  {'mode':9} {'client':18} {'median':>8} {'turns':>5} {'effRTT':>6} {'x LB':>6} "
          f"{'x LB(BDAT)':>10} {'x best 3rd party':>16}")
    ok = True
    for mode, lb in (("starttls", 9), ("implicit", 7)):
        # Third-party clients only: not our references (py-ideal, gio-naive, gio-tuned).
        third = [r for r in rows if r["mode"] == mode and r["kind"] == "anchor"
                 and not r["client"].startswith(("gio-", "py-ideal"))]
        best = min(third, key=lambda r: r["median_ms"]) if third else None
        for r in sorted((r for r in rows if r["mode"] == mode), key=lambda r: r["median_ms"]):
            lb_ms = lb * rtt
            x_lb = r["median_ms"] / lb_ms
            x_lb_bdat = r["median_ms"] / ((lb - 1) * rtt)
            x_best = r["median_ms"] / best["median_ms"] if best else float("nan")
            mark = ""
            if r["client"] == OURS:
                turns_ok = r["rtts_turns"] <= lb + 1
                time_ok = x_lb <= 1.25
                fastest = all(r["median_ms"] < o["median_ms"] for o in third)
                ok = ok and turns_ok and time_ok and fastest
                mark = "  <- turns {} LB+1, {:.2f}x LB {} 1.25, {}".format(
                    "<=" if turns_ok else ">", x_lb, "<=" if time_ok else ">",
                    "fastest" if fastest else "NOT fastest")
            print(f"  {mode:9} {r['client']:18} {r['median_ms']:8.1f} {r['rtts_turns']:5} "
                  f"{r['rtts_time']:6.1f} {x_lb:6.2f} {x_lb_bdat:10.2f} {x_best:16.2f}{mark}")
    print(f"  SMTP targets: {'met' if ok else 'MISSED'}")
    for r in flushes:
        # A backlog of N messages in one `smtp-relay flush`, against N separate sends.
        n = int(r["client"][len(FLUSH):])
        one = next((o for o in rows if o["client"] == OURS and o["mode"] == r["mode"]), None)
        versus = (f", {r['median_ms'] / (n * one['median_ms']):.2f} x {n} single sends"
                  if one else "")
        print(f"  flush of {n} queued messages, {r['mode']}: {r['median_ms']:.1f} ms, "
              f"{r['rtts_turns']} turns, {r['median_ms'] / n:.1f} ms per message{versus}")
    print()


def load_runs(path):
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in open(path) if line.strip()]


def median_of(runs, phase, key):
    if phase == "idle" and key == "first_frame_gap_ms":
        return f"{'-':>6}"
    values = [r[phase][key] for r in runs if key in r[phase]]
    return f"{statistics.median(values):6.1f}" if values else f"{'-':>6}"


def gaps(out):
    """SMTP Relay's gaps beside those of the reference window, which makes the same kind of
    change in each phase at the same size (see tests/bench/minimal-window.c). The longest gap
    of a phase is split into the first frame after its change (the toolkit drawing what the
    user did: new text, the progress line, a scroll) and the longest one after it (drawn
    while the lookup, keyring call or send runs)."""
    for renderer in ("cairo", "gl"):
        runs = load_runs(os.path.join(out, f"gaps-{renderer}.jsonl"))
        ref = load_runs(os.path.join(out, f"gaps-reference-{renderer}.jsonl"))
        if not runs:
            continue
        print(f"Window frame gaps ({renderer}; longest gap per run, median over runs; "
              "target < 20 ms)")
        print(f"  {'':8} {'SMTP Relay':^29}   {'reference':^22}")
        print(f"  {'phase':8} {'longest':>7} {'worst':>6} {'first':>6} {'after':>6}   "
              f"{'longest':>7} {'first':>6} {'after':>6}   {'typical frame':>13}")
        for phase in ("idle", "lookup", "keyring", "send"):
            worst = [r[phase]["max_gap_ms"] for r in runs]
            typical = [r[phase]["median_gap_ms"] for r in runs]
            ours = (f"{statistics.median(worst):7.1f} {max(worst):6.1f} "
                    f"{median_of(runs, phase, 'first_frame_gap_ms')} "
                    f"{median_of(runs, phase, 'max_gap_after_first_ms')}")
            theirs = (f"{median_of(ref, phase, 'max_gap_ms'):>7} "
                      f"{median_of(ref, phase, 'first_frame_gap_ms')} "
                      f"{median_of(ref, phase, 'max_gap_after_first_ms')}"
                      if ref else f"{'-':>7} {'-':>6} {'-':>6}")
            print(f"  {phase:8} {ours}   {theirs}   {statistics.median(typical):13.1f}")
        print("  first: the frame that first shows the phase's change; after: the longest gap "
              "after it (idle has no change)")
        if ref:
            print(f"  reference: minimal-window.c at 640x760, {len(ref)} runs; "
                  "a line's text changes in lookup and keyring, a spinner appears in send")
        print()


# The start-up steps that src/relay-bench.c marks, in order.
STEPS = ("main", "activate", "window-built", "realized", "presented", "layout-done", "paint-done")


def print_window(w):
    """The window start-up figures of window-bench.py (its JSON), which prints them too."""
    renderer = w.get("renderer", "gl")
    print(f"Window start-up ({renderer} renderer, Xvfb, {w['runs']} runs each, medians; "
          f"target <= 1.20x)")
    print(f"  first frame  minimal {w['minimal_first_frame_ms']:7.1f} ms  SMTP Relay "
          f"{w['relay_first_frame_ms']:7.1f} ms  {w['first_frame_ratio']:.2f}x")
    print(f"  peak RSS     minimal {w['minimal_vmhwm_mib']:7.1f} MiB SMTP Relay "
          f"{w['relay_vmhwm_mib']:7.1f} MiB {w['vmhwm_ratio']:.2f}x")
    if "sized_first_frame_ms" in w:
        print(f"  minimal at SMTP Relay's {w['same_size']} (what the size costs, not judged): "
              f"{w['sized_first_frame_ms']:.1f} ms, SMTP Relay {w['sized_first_frame_ratio']:.2f}x")
    steps = w.get("steps_ms")
    if steps:
        sized = steps.get("sized", {})
        print("  start-up steps, median ms since exec (each includes the ones above):")
        print(f"    {'':14} {'minimal':>8} {'same size':>10} {'SMTP Relay':>11} {'difference':>11}")
        for step in STEPS:
            if step in steps.get("minimal", {}) and step in steps.get("relay", {}):
                a, b = steps["minimal"][step], steps["relay"][step]
                c = f"{sized[step]:10.1f}" if step in sized else f"{'':10}"
                print(f"    {step:14} {a:8.1f} {c} {b:11.1f} {b - a:+11.1f}")
    shaping = w.get("shaping")
    if shaping:
        print("  text shaped before the first frame (hb_shape_full calls / characters): "
              + ", ".join(f"{label} {shaping[k]['calls']} / {shaping[k]['chars']}"
                          for k, label in (("minimal", "minimal"), ("sized", "same size"),
                                           ("relay", "SMTP Relay")) if k in shaping))
    print()


def window(out):
    for name in ("window.json", "window-cairo.json"):
        path = os.path.join(out, name)
        if os.path.exists(path):
            print_window(json.load(open(path)))


def main():
    out = sys.argv[1]
    smtp(out)
    gaps(out)
    window(out)


if __name__ == "__main__":
    main()

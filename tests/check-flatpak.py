#!/usr/bin/python3
"""Offline checks of the Flatpak manifest (no runtime or network is needed).

Usage: check-flatpak.py MANIFEST APP_ID BUILD_ROOT

* `flatpak-builder --show-manifest` must parse it without a WARNING: it exits 0 on unknown keys
  and only warns, so stderr is read too.
* The id is the application id that meson uses, and the file is named after it.
* The command is an executable that this meson project builds and installs into bindir.
* finish-args are exactly the agreed set: no dconf, no org.freedesktop.secrets (libsecret goes
  through the Secret portal), no filesystem access.

Exit status: 0 passed, 1 failed, 77 skipped (meson's skip code).
"""
import json
import os
import shutil
import subprocess
import sys

ALLOWED_FINISH_ARGS = {
    "--share=network",
    "--share=ipc",
    "--socket=wayland",
    "--socket=fallback-x11",
    "--device=dri",
}

failures = []


def fail(message):
    failures.append(message)
    print(f"FAIL: {message}")


def check_show_manifest(manifest):
    builder = shutil.which("flatpak-builder")
    if builder is None:
        if os.environ.get("CI"):
            fail("flatpak-builder is not installed, and CI must run this check "
                 "(apt-get install flatpak-builder)")
        else:
            print("SKIP: flatpak-builder is not installed (apt-get install flatpak-builder); "
                  "the manifest was not parsed by it")
        return False
    proc = subprocess.run([builder, "--show-manifest", manifest],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        fail(f"flatpak-builder --show-manifest exited with {proc.returncode}:\n{proc.stderr}")
    for line in proc.stderr.splitlines():
        if "WARNING" in line:
            fail(f"flatpak-builder --show-manifest warned: {line.strip()}")
    return True


def check_command(command, build_root):
    """The command must be one of this project's installed executables."""
    intro = os.path.join(build_root, "meson-info", "intro-targets.json")
    try:
        with open(intro, encoding="utf-8") as f:
            targets = json.load(f)
    except OSError as e:
        fail(f"cannot read meson's target list {intro}: {e}")
        return
    with open(os.path.join(build_root, "meson-info", "intro-buildoptions.json"),
              encoding="utf-8") as f:
        options = {o["name"]: o["value"] for o in json.load(f)}
    bindir = os.path.join(options["prefix"], options["bindir"])

    candidates = [t for t in targets if t["type"] == "executable" and t["name"] == command]
    if not candidates:
        names = sorted(t["name"] for t in targets if t["type"] == "executable")
        fail(f"command “{command}” is not an executable of this project (it builds {names})")
        return
    target = candidates[0]
    if not target.get("installed"):
        fail(f"command “{command}” is built but not installed")
        return
    expected = os.path.join(bindir, command)
    if expected not in target.get("install_filename", []):
        fail(f"command “{command}” is installed to {target.get('install_filename')}, "
             f"not to {expected}, so it is not on the Flatpak's PATH")
    for path in target["filename"]:
        if os.path.exists(path) and not os.access(path, os.X_OK):
            fail(f"{path} is not executable")


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 1
    manifest, app_id, build_root = sys.argv[1:]

    parsed = check_show_manifest(manifest)

    with open(manifest, encoding="utf-8") as f:
        data = json.load(f)

    manifest_id = data.get("id") or data.get("app-id")
    if manifest_id != app_id:
        fail(f"manifest id is “{manifest_id}”, the application id is “{app_id}”")
    stem = os.path.basename(manifest).rsplit(".", 1)[0]
    if stem != app_id:
        fail(f"manifest file is named “{os.path.basename(manifest)}”, expected “{app_id}.json”")

    command = data.get("command")
    if not command:
        fail("manifest has no command")
    else:
        check_command(command, build_root)

    finish_args = data.get("finish-args", [])
    if len(finish_args) != len(set(finish_args)):
        fail(f"finish-args has duplicates: {finish_args}")
    extra = sorted(set(finish_args) - ALLOWED_FINISH_ARGS)
    missing = sorted(ALLOWED_FINISH_ARGS - set(finish_args))
    if extra:
        fail(f"finish-args not allowed: {extra} (no dconf, secrets service or filesystem access)")
    if missing:
        fail(f"finish-args missing: {missing}")

    if failures:
        print(f"{len(failures)} problem(s) in {manifest}")
        return 1
    if not parsed:
        return 77
    print(f"ok: {manifest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

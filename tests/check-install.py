#!/usr/bin/python3
"""Installs the build into a throw-away DESTDIR and checks what a package or Flatpak would get.

Usage: check-install.py MESON BUILD_ROOT SOURCE_ROOT APP_ID

* Every file the desktop needs is installed under the prefix: the executable, the window's
  and Detect's modules, the desktop file, the metainfo, both icons, the GSettings schema and the translations
  in po/LINGUAS.
* The installed executable looks for its modules where they are installed.
* The queue flush timer and its service are where systemd looks for this prefix's user units.
* `appstreamcli validate-tree --no-net` accepts the installed tree (metainfo, desktop file and
  icon together), as AppStream generators on distributions and Flathub read it.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile


def check_user_units(root, prefix):
    """The timer and its service are installed together where systemd looks for user units:
    a `--prefix=~/.local` install whose timer systemd cannot find is a queue nobody flushes."""
    found = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            if name.startswith("smtp-relay-flush."):
                found[name] = prefix + dirpath[len(root):]
    units = ["smtp-relay-flush.service", "smtp-relay-flush.timer"]
    problems = [f"{unit} is not installed" for unit in units if unit not in found]
    if problems or found[units[0]] != found[units[1]]:
        return problems or [f"the timer and the service are installed apart: {found}"]
    unit_dir = found[units[0]]
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        print("note: systemd-analyze is missing, the user unit directory is not checked")
        return []
    proc = subprocess.run([analyze, "--user", "unit-paths"], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        print(f"note: systemd-analyze --user unit-paths failed, not checked: {proc.stderr}")
        return []
    if unit_dir not in proc.stdout.split():
        return [f"the queue flush timer is installed in {unit_dir}, where systemd does not "
                f"look for user units:\n{proc.stdout}"]
    print(f"ok: the user units are in {unit_dir}")
    return []


def main():
    if len(sys.argv) != 5:
        print(__doc__)
        return 1
    meson, build_root, source_root, app_id = sys.argv[1:]

    with open(os.path.join(build_root, "meson-info", "intro-buildoptions.json"),
              encoding="utf-8") as f:
        options = {o["name"]: o["value"] for o in json.load(f)}
    prefix = options["prefix"]

    def under_prefix(name):
        # Directory options are relative to the prefix, or absolute paths inside it.
        value = options[name]
        return os.path.relpath(value, prefix) if os.path.isabs(value) else value

    datadir, bindir, localedir, libdir = (under_prefix(n)
                                          for n in ("datadir", "bindir", "localedir", "libdir"))
    modules = [f"{libdir}/smtp-relay/{name}" for name in ("smtp-relay-ui.so", "smtp-relay-detect.so")]

    with open(os.path.join(source_root, "po", "LINGUAS"), encoding="utf-8") as f:
        languages = [l.strip() for l in f if l.strip() and not l.startswith("#")]

    expected = [
        f"{bindir}/smtp-relay",
        *modules,
        f"{datadir}/applications/{app_id}.desktop",
        f"{datadir}/metainfo/{app_id}.metainfo.xml",
        f"{datadir}/icons/hicolor/scalable/apps/{app_id}.svg",
        f"{datadir}/icons/hicolor/symbolic/apps/{app_id}-symbolic.svg",
        f"{datadir}/glib-2.0/schemas/{app_id}.gschema.xml",
    ] + [f"{localedir}/{lang}/LC_MESSAGES/smtp-relay.mo" for lang in languages]

    problems = []
    with tempfile.TemporaryDirectory() as destdir:
        proc = subprocess.run([meson, "install", "-C", build_root, "--no-rebuild", "--quiet",
                               "--destdir", destdir], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"FAIL: meson install failed:\n{proc.stdout}{proc.stderr}")
            return 1
        root = destdir + prefix
        for path in expected:
            if not os.path.isfile(os.path.join(root, path)):
                problems.append(f"{prefix}/{path} is not installed")
        # relay-module.c builds each path from the directory and the name; both must be in
        # the binary.
        executable = os.path.join(root, bindir, "smtp-relay")
        if os.path.isfile(executable):
            with open(executable, "rb") as f:
                data = f.read()
            for module in modules:
                module_dir, name = os.path.split(os.path.join(prefix, module))
                if (b"\0" + module_dir.encode() + b"\0" not in data
                        or b"\0" + name.encode() + b"\0" not in data):
                    problems.append(f"the installed executable does not look for {name} in "
                                    f"{prefix}/{module}")

        problems += check_user_units(root, prefix)

        appstreamcli = shutil.which("appstreamcli")
        if appstreamcli is None:
            if os.environ.get("CI"):
                problems.append("appstreamcli is missing (apt-get install appstream)")
            else:
                print("note: appstreamcli is missing, validate-tree skipped")
        else:
            proc = subprocess.run([appstreamcli, "validate-tree", "--no-net", "--explain", root],
                                  capture_output=True, text=True, check=False)
            print(proc.stdout, end="")
            if proc.returncode != 0:
                problems.append(f"appstreamcli validate-tree rejects the installed tree:\n"
                                f"{proc.stdout}{proc.stderr}")

    for problem in problems:
        print(f"FAIL: {problem}")
    if problems:
        return 1
    print(f"ok: {len(expected)} files installed, the installed tree validates")
    return 0


if __name__ == "__main__":
    sys.exit(main())

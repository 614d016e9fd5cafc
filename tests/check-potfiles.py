#!/usr/bin/python3
"""Checks that po/POTFILES.in lists exactly the files with translatable strings.

Usage: check-potfiles.py SOURCE_ROOT

Fails when a file under src/, ui/ or data/ has translatable strings but is missing from
POTFILES.in (its strings would silently stay English), and when POTFILES.in lists a file that
does not exist (xgettext, and with it the pot target, would fail). Files in po/POTFILES.skip
are exempt. Translatable means:

* C sources and headers: a gettext macro call, _( N_( C_( NC_( Q_( ;
* GtkBuilder files (.ui): translatable="yes";
* data: desktop and metainfo templates (*.desktop.in, *.metainfo.xml.in, *.appdata.xml.in) and
  GSettings schemas with a <summary> or <description>.
"""
import os
import re
import sys

SCANNED_DIRS = ("src", "ui", "data")
C_GETTEXT = re.compile(r"(?<![A-Za-z0-9_])(?:_|N_|C_|NC_|Q_)\s*\(")
UI_TRANSLATABLE = re.compile(r"""translatable\s*=\s*["'](?:yes|true|1)["']""", re.IGNORECASE)
SCHEMA_TEXT = re.compile(r"<(?:summary|description)\b")


def has_translatable_strings(path):
    name = os.path.basename(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (UnicodeDecodeError, OSError):
        return False
    if name.endswith((".c", ".h")):
        return C_GETTEXT.search(text) is not None
    if name.endswith(".ui"):
        return UI_TRANSLATABLE.search(text) is not None
    if name.endswith((".desktop.in", ".metainfo.xml.in", ".appdata.xml.in")):
        return True
    if name.endswith((".gschema.xml", ".gschema.xml.in")):
        return SCHEMA_TEXT.search(text) is not None
    return False


def read_list(path):
    entries = []
    if not os.path.exists(path):
        return entries
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if line and not line.startswith("#"):
                entries.append((number, line))
    return entries


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 1
    root = sys.argv[1]
    potfiles_in = os.path.join(root, "po", "POTFILES.in")
    listed = read_list(potfiles_in)
    skipped = {entry for _, entry in read_list(os.path.join(root, "po", "POTFILES.skip"))}
    problems = []

    seen = set()
    for number, entry in listed:
        if entry in seen:
            problems.append(f"po/POTFILES.in:{number}: {entry} is listed twice")
        seen.add(entry)
        if not os.path.isfile(os.path.join(root, entry)):
            problems.append(f"po/POTFILES.in:{number}: {entry} does not exist")

    found = []
    for top in SCANNED_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for filename in sorted(filenames):
                relative = os.path.relpath(os.path.join(dirpath, filename), root)
                relative = relative.replace(os.sep, "/")
                if has_translatable_strings(os.path.join(dirpath, filename)):
                    found.append(relative)
                    if relative not in seen and relative not in skipped:
                        problems.append(f"{relative} has translatable strings but is not in "
                                        "po/POTFILES.in")

    for problem in problems:
        print(f"FAIL: {problem}")
    if problems:
        return 1
    print(f"ok: po/POTFILES.in lists all {len(found)} files with translatable strings")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Checks one translation: po/LANG.po.

Usage: check-po.py SOURCE_ROOT LANG

Fails when `msgfmt --check` rejects the file (syntax, header, a format string such as %s or %u
that does not match the English one) or when it has fuzzy entries, which gettext ignores.

Then it extracts the current strings the way the pot target does and reports the messages the
translation lacks. That is a note, not a failure: new strings in the code are normal, and
translators catch up with `meson compile -C _build smtp-relay-update-po`.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

# The keywords of i18n.gettext(preset: 'glib'), so the extraction matches the pot target's.
XGETTEXT_GLIB_ARGS = [
    "--from-code=UTF-8", "--add-comments",
    "--keyword=_", "--keyword=N_", "--keyword=C_:1c,2", "--keyword=NC_:1c,2",
    "--keyword=g_dcgettext:2", "--keyword=g_dngettext:2,3", "--keyword=g_dpgettext2:2c,3",
    "--flag=N_:1:pass-c-format", "--flag=C_:2:pass-c-format", "--flag=NC_:2:pass-c-format",
    "--flag=g_dngettext:2:pass-c-format", "--flag=g_strdup_printf:1:c-format",
    "--flag=g_string_printf:2:c-format", "--flag=g_string_append_printf:2:c-format",
    "--flag=g_error_new:3:c-format", "--flag=g_set_error:4:c-format",
    "--flag=g_markup_printf_escaped:1:c-format", "--flag=g_log:3:c-format",
    "--flag=g_print:1:c-format", "--flag=g_printerr:1:c-format", "--flag=g_printf:1:c-format",
    "--flag=g_fprintf:2:c-format", "--flag=g_sprintf:2:c-format", "--flag=g_snprintf:3:c-format",
]


def statistics(po_file, env):
    proc = subprocess.run(["msgfmt", "--check", "--statistics", "-o", os.devnull, po_file],
                          capture_output=True, text=True, env=env, check=False)
    counts = {"translated": 0, "fuzzy": 0, "untranslated": 0}
    for number, kind in re.findall(r"(\d+) (translated|fuzzy|untranslated)", proc.stderr):
        counts[kind] = int(number)
    return proc, counts


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 1
    root, lang = sys.argv[1:]
    po_file = os.path.join(root, "po", f"{lang}.po")
    env = dict(os.environ, LC_ALL="C")

    if shutil.which("msgfmt") is None:
        print("FAIL: msgfmt is missing (apt-get install gettext)")
        return 1
    if not os.path.isfile(po_file):
        print(f"FAIL: {po_file} does not exist, but po/LINGUAS lists {lang}")
        return 1

    proc, counts = statistics(po_file, env)
    if proc.returncode != 0:
        print(f"FAIL: msgfmt --check rejects {po_file}:\n{proc.stderr}")
        return 1
    if counts["fuzzy"]:
        print(f"FAIL: {po_file} has {counts['fuzzy']} fuzzy messages: review them and "
              "remove the fuzzy flag, or gettext ignores them")
        return 1
    print(f"ok: {po_file}: {counts['translated']} translated, "
          f"{counts['untranslated']} untranslated")

    if shutil.which("xgettext") and shutil.which("msgmerge"):
        with tempfile.TemporaryDirectory() as tmp:
            pot = os.path.join(tmp, "current.pot")
            merged = os.path.join(tmp, f"{lang}.po")
            subprocess.run(["xgettext", "--package-name=smtp-relay", "-D", root,
                            "-f", os.path.join(root, "po", "POTFILES.in"), "-o", pot,
                            *XGETTEXT_GLIB_ARGS],
                           check=True, env=env, capture_output=True)
            subprocess.run(["msgmerge", "--quiet", "--no-fuzzy-matching", "-o", merged,
                            po_file, pot], check=True, env=env, capture_output=True)
            _, now = statistics(merged, env)
            missing = now["untranslated"] + now["fuzzy"]
            if missing:
                print(f"note: {missing} current message(s) are not translated into {lang} yet; "
                      "run `meson compile -C _build smtp-relay-update-po` and translate them")
    return 0


if __name__ == "__main__":
    sys.exit(main())

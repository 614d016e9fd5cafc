#!/usr/bin/python3
"""Checks in the metainfo template what appstreamcli 0.16 does not.

Usage: check-metainfo.py METAINFO_IN SOURCE_ROOT PROJECT_VERSION

* The newest <release> is the meson project version, so a version bump is not forgotten in
  one of the two places, and releases are listed newest first.
* Screenshots: the first is type="default", each has a caption and an https PNG image.
* A screenshot URL that points into this repository's main branch names a file that exists in
  the tree. A missing one is reported as a note only, because a screenshot can be listed before
  the feature it shows is merged (test-failed.png waits for the Test button).
"""
import sys
import os
import xml.etree.ElementTree as ET

REPO_RAW = "https://raw.githubusercontent.com/smtprelay/SmtpRelay/main/"


def version_key(version):
    return [int(part) if part.isdigit() else part for part in version.split(".")]


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 1
    path, source_root, project_version = sys.argv[1:]
    root = ET.parse(path).getroot()
    problems, notes = [], []

    releases = root.findall("./releases/release")
    if not releases:
        problems.append("no <release>")
    else:
        newest = releases[0].get("version")
        if newest != project_version:
            problems.append(f"the newest release is {newest}, meson's project version is "
                            f"{project_version}")
        versions = [r.get("version") for r in releases]
        if versions != sorted(versions, key=version_key, reverse=True):
            problems.append(f"releases are not newest first: {versions}")

    screenshots = root.findall("./screenshots/screenshot")
    if not screenshots:
        problems.append("no <screenshot>")
    elif screenshots[0].get("type") != "default":
        problems.append("the first screenshot is not type=\"default\"")
    for number, shot in enumerate(screenshots, 1):
        if not (shot.findtext("caption") or "").strip():
            problems.append(f"screenshot {number} has no caption")
        url = (shot.findtext("image") or "").strip()
        if not (url.startswith("https://") and url.endswith(".png")):
            problems.append(f"screenshot {number} is not an https PNG: {url}")
        if url.startswith(REPO_RAW):
            local = os.path.join(source_root, url[len(REPO_RAW):])
            if not os.path.isfile(local):
                notes.append(f"screenshot {number} ({url[len(REPO_RAW):]}) is not in the tree "
                             "yet: take it with build-aux/screenshots.sh before the release")

    for note in notes:
        print(f"note: {note}")
    for problem in problems:
        print(f"FAIL: {problem}")
    if problems:
        return 1
    print(f"ok: release {project_version}, {len(screenshots)} screenshots")
    return 0


if __name__ == "__main__":
    sys.exit(main())

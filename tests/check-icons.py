#!/usr/bin/python3
"""Checks the app icons in data/icons.

Usage: check-icons.py ICON_DIR APP_ID

* Names: APP_ID.svg and APP_ID-symbolic.svg (Flatpak exports only files named after the app id).
* The full-colour icon is drawn on a 128×128 canvas (GNOME's app icon grid; Flathub wants at
  least 128×128).
* The symbolic icon is a 16×16 canvas with one colour and plain shapes only: GTK recolours
  symbolic icons by overriding fill colours, which breaks gradients, masks, filters and text.
* Both render: `rsvg-convert` (librsvg, which GTK's icon loader uses too) turns them into PNGs
  with visible pixels at 16, 32 and 128 pixels.
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib

SVG = "{http://www.w3.org/2000/svg}"
COLOUR_ATTRS = ("fill", "stroke", "stop-color", "flood-color", "lighting-color")
NOT_FOR_SYMBOLIC = ("linearGradient", "radialGradient", "mask", "filter", "image", "text",
                    "pattern", "clipPath", "style")

problems = []


def fail(message):
    problems.append(message)
    print(f"FAIL: {message}")


def png_alpha_coverage(path):
    """Share of pixels that are not fully transparent, from an 8-bit RGBA PNG (rsvg's output)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if (depth, colour_type, interlace) != (8, 6, 0):
                raise ValueError(f"unexpected PNG format {depth}/{colour_type}/{interlace}")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * 4
    previous = bytearray(stride)
    visible = 0
    for y in range(height):
        filter_type = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 4] if i >= 4 else 0
            b = previous[i]
            c = previous[i - 4] if i >= 4 else 0
            if filter_type == 1:
                line[i] = (line[i] + a) & 0xFF
            elif filter_type == 2:
                line[i] = (line[i] + b) & 0xFF
            elif filter_type == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif filter_type == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        visible += sum(1 for x in range(3, stride, 4) if line[x])
        previous = line
    return visible / (width * height)


def colours_of(element):
    found = []
    for attr in COLOUR_ATTRS:
        if element.get(attr):
            found.append(element.get(attr))
    for declaration in (element.get("style") or "").split(";"):
        name, _, value = declaration.partition(":")
        if name.strip() in COLOUR_ATTRS:
            found.append(value.strip())
    return [c.lower() for c in found if c.lower() not in ("none", "currentcolor")]


def check_svg(path, symbolic):
    name = os.path.basename(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        fail(f"{name} is not well-formed XML: {e}")
        return
    view_box = (root.get("viewBox") or "").split()
    size = 16 if symbolic else 128
    if [float(v) for v in view_box] != [0, 0, size, size]:
        fail(f"{name} has viewBox “{root.get('viewBox')}”, expected “0 0 {size} {size}”")
    if symbolic:
        colours = set()
        for element in root.iter():
            tag = element.tag.replace(SVG, "")
            if tag in NOT_FOR_SYMBOLIC:
                fail(f"{name} uses <{tag}>, which GTK cannot recolour in a symbolic icon")
            colours.update(colours_of(element))
        if len(colours) > 1:
            fail(f"{name} uses several colours {sorted(colours)}; a symbolic icon has one")
        if any(re.search(r"opacity", ET.tostring(e, encoding="unicode").split(">")[0])
               for e in root.iter()):
            fail(f"{name} uses opacity; symbolic icons are drawn in one solid colour")


def check_render(path, renderer, tmp):
    name = os.path.basename(path)
    for size in (16, 32, 128):
        out = os.path.join(tmp, f"{name}-{size}.png")
        proc = subprocess.run([renderer, "-w", str(size), "-h", str(size), "-f", "png",
                               "-o", out, path], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            fail(f"{name} does not render at {size}px: {proc.stderr.strip()}")
            continue
        try:
            coverage = png_alpha_coverage(out)
        except (ValueError, zlib.error, struct.error) as e:
            fail(f"{name} rendered at {size}px to an unreadable PNG: {e}")
            continue
        if coverage < 0.15:
            fail(f"{name} renders at {size}px almost empty ({coverage:.0%} of the pixels)")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 1
    icon_dir, app_id = sys.argv[1:]
    icons = {app_id + ".svg": False, app_id + "-symbolic.svg": True}
    present = sorted(f for f in os.listdir(icon_dir) if f.endswith((".svg", ".png")))
    for extra in sorted(set(present) - set(icons)):
        if not extra.startswith(app_id):
            fail(f"{extra}: icon names must start with the app id {app_id}, or Flatpak "
                 "does not export them")

    renderer = shutil.which("rsvg-convert")
    if renderer is None:
        message = "rsvg-convert is missing (apt-get install librsvg2-bin): icons not rendered"
        if os.environ.get("CI"):
            fail(message)
        else:
            print(f"note: {message}")

    with tempfile.TemporaryDirectory() as tmp:
        for name, symbolic in icons.items():
            path = os.path.join(icon_dir, name)
            if not os.path.isfile(path):
                fail(f"{name} is missing")
                continue
            check_svg(path, symbolic)
            if renderer:
                check_render(path, renderer, tmp)

    if problems:
        return 1
    print(f"ok: {', '.join(icons)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

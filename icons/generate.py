#!/usr/bin/env python3
"""Generates the EXAI Tray icons in this directory. Run once after changing the design:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install Pillow
    /tmp/venv/bin/python icons/generate.py

Outputs (all RGBA PNG, plus a multi-size ICO), committed next to this script:
  - app icons: 32x32.png, 128x128.png, 128x128@2x.png, icon.png (512), icon.ico
  - tray icons, one per state: tray-green.png, tray-amber.png, tray-red.png, tray-grey.png

Design: the tray icon is a bold filled disc in the state colour with a dark outline and a heavy
"E" glyph, so it stays legible at 16 px on light and dark panels. The glyph is drawn from
rectangles (no font), everything is drawn at 8x and downscaled for clean anti-aliasing.
"""

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
SUPERSAMPLE = 8

OUTLINE = (24, 28, 33, 255)
WHITE = (255, 255, 255, 255)
INK = (24, 28, 33, 255)

# State colour, glyph colour (chosen for contrast against the disc).
TRAY_STATES = {
    "green": ((46, 160, 67, 255), WHITE),
    "amber": ((240, 165, 0, 255), INK),
    "red": ((218, 54, 51, 255), WHITE),
    "grey": ((110, 118, 129, 255), WHITE),
}

APP_BACKGROUND = (31, 111, 235, 255)


def draw_e(draw: ImageDraw.ImageDraw, box: tuple[float, float, float, float], colour) -> None:
    """A heavy sans-serif "E" filling `box` (left, top, right, bottom)."""
    left, top, right, bottom = box
    width = right - left
    height = bottom - top
    stroke = height * 0.24
    stem = width * 0.36
    middle_right = left + width * 0.86
    draw.rectangle([left, top, left + stem, bottom], fill=colour)
    draw.rectangle([left, top, right, top + stroke], fill=colour)
    mid = top + (height - stroke) / 2
    draw.rectangle([left, mid, middle_right, mid + stroke], fill=colour)
    draw.rectangle([left, bottom - stroke, right, bottom], fill=colour)


def tray_icon(size: int, fill, glyph) -> Image.Image:
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    margin = big * 0.03
    outline = big * 0.09
    draw.ellipse([margin, margin, big - margin, big - margin], fill=OUTLINE)
    inner = margin + outline
    draw.ellipse([inner, inner, big - inner, big - inner], fill=fill)
    glyph_height = big * 0.48
    glyph_width = big * 0.36
    left = (big - glyph_width) / 2 + big * 0.01
    top = (big - glyph_height) / 2
    draw_e(draw, (left, top, left + glyph_width, top + glyph_height), glyph)
    return image.resize((size, size), Image.LANCZOS)


def app_icon(size: int) -> Image.Image:
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    margin = big * 0.04
    radius = big * 0.22
    draw.rounded_rectangle(
        [margin, margin, big - margin, big - margin], radius=radius, fill=OUTLINE
    )
    border = big * 0.05
    draw.rounded_rectangle(
        [margin + border, margin + border, big - margin - border, big - margin - border],
        radius=radius - border,
        fill=APP_BACKGROUND,
    )
    glyph_height = big * 0.52
    glyph_width = big * 0.40
    left = (big - glyph_width) / 2
    top = (big - glyph_height) / 2
    draw_e(draw, (left, top, left + glyph_width, top + glyph_height), WHITE)
    # A green status disc in the corner ties the app icon to the tray icon.
    dot = big * 0.26
    dot_left = big - margin - dot - big * 0.02
    dot_top = big - margin - dot - big * 0.02
    draw.ellipse([dot_left, dot_top, dot_left + dot, dot_top + dot], fill=OUTLINE)
    ring = big * 0.035
    draw.ellipse(
        [dot_left + ring, dot_top + ring, dot_left + dot - ring, dot_top + dot - ring],
        fill=TRAY_STATES["green"][0],
    )
    return image.resize((size, size), Image.LANCZOS)


def main() -> None:
    for name, (fill, glyph) in TRAY_STATES.items():
        tray_icon(32, fill, glyph).save(HERE / f"tray-{name}.png")
    app_icon(32).save(HERE / "32x32.png")
    app_icon(128).save(HERE / "128x128.png")
    app_icon(256).save(HERE / "128x128@2x.png")
    app_icon(512).save(HERE / "icon.png")
    app_icon(256).save(
        HERE / "icon.ico",
        sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)],
    )


if __name__ == "__main__":
    main()

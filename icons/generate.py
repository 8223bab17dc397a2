#!/usr/bin/env python3
"""Generates the EXAI Tray icons in this directory. Run once after changing the design:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install Pillow
    /tmp/venv/bin/python icons/generate.py

Outputs (all RGBA PNG, plus a multi-size ICO), committed next to this script:
  - app icons: 32x32.png, 128x128.png, 128x128@2x.png, icon.png (512), icon.ico
  - tray icons, one per state: tray-green.png, tray-amber.png, tray-red.png, tray-grey.png

Design: the tray icon is a bold filled disc in the state colour with a dark outline and a heavy
mark per state, so the states differ by shape as well as colour (red and green look alike to
many colour-blind people) and stay legible at 16 px on light and dark panels: a check for green
(all ready), an exclamation mark for amber (needs a look), a cross for red (down or lost) and a
dash for grey (nothing connected). The app icon keeps its "E". Marks are drawn from lines,
rectangles and discs (no font); everything is drawn at 8x and downscaled for clean anti-aliasing.
After writing, `check_marks` holds the four tray icons to differing in shape at 16 px with their
colours taken away, and the script fails if they do not.
"""

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
SUPERSAMPLE = 8

OUTLINE = (24, 28, 33, 255)
WHITE = (255, 255, 255, 255)
INK = (24, 28, 33, 255)

# State colour, mark colour (chosen for contrast against the disc), mark.
TRAY_STATES = {
    "green": ((46, 160, 67, 255), WHITE, "check"),
    "amber": ((240, 165, 0, 255), INK, "exclamation"),
    "red": ((218, 54, 51, 255), WHITE, "cross"),
    "grey": ((110, 118, 129, 255), WHITE, "dash"),
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


def stroke(draw: ImageDraw.ImageDraw, points, width: float, colour) -> None:
    """A polyline of `width` with round ends and joints."""
    draw.line(points, fill=colour, width=round(width), joint="curve")
    radius = width / 2
    for x, y in (points[0], points[-1]):
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour)


def draw_mark(draw: ImageDraw.ImageDraw, big: int, mark: str, colour) -> None:
    """The state's mark, centred in a disc of `big` pixels."""
    c = big / 2
    width = big * 0.16
    if mark == "check":
        stroke(draw, [(c - big * 0.21, c + big * 0.01), (c - big * 0.06, c + big * 0.16), (c + big * 0.22, c - big * 0.15)], width, colour)
    elif mark == "cross":
        arm = big * 0.17
        stroke(draw, [(c - arm, c - arm), (c + arm, c + arm)], width, colour)
        stroke(draw, [(c - arm, c + arm), (c + arm, c - arm)], width, colour)
    elif mark == "exclamation":
        bar = big * 0.15
        stroke(draw, [(c, c - big * 0.22), (c, c + big * 0.04)], bar, colour)
        dot = big * 0.085
        y = c + big * 0.20
        draw.ellipse([c - dot, y - dot, c + dot, y + dot], fill=colour)
    elif mark == "dash":
        stroke(draw, [(c - big * 0.19, c), (c + big * 0.19, c)], width, colour)
    else:
        raise ValueError(mark)


def tray_icon(size: int, fill, glyph, mark: str) -> Image.Image:
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    margin = big * 0.03
    outline = big * 0.09
    draw.ellipse([margin, margin, big - margin, big - margin], fill=OUTLINE)
    inner = margin + outline
    draw.ellipse([inner, inner, big - inner, big - inner], fill=fill)
    draw_mark(draw, big, mark, glyph)
    return image.resize((size, size), Image.LANCZOS)


def mark_mask(image: Image.Image, glyph) -> list[bool]:
    """Where the mark is, at 16 px: pixels inside the disc (the outline left out) nearer the
    mark's colour than the disc's."""
    small = image.resize((16, 16), Image.LANCZOS).convert("RGBA")
    pixels = small.load()
    target = glyph[:3]
    mask = []
    for y in range(16):
        for x in range(16):
            r, g, b, a = pixels[x, y]
            inside = (x + 0.5 - 8) ** 2 + (y + 0.5 - 8) ** 2 < 5.5**2
            distance = abs(r - target[0]) + abs(g - target[1]) + abs(b - target[2])
            mask.append(inside and a > 128 and distance < 200)
    return mask


def check_marks(icons: dict[str, tuple[Image.Image, tuple]]) -> None:
    """Fails unless every two tray icons differ in at least 12 of the 256 pixels at 16 px by the
    shape of their mark alone (colour taken away)."""
    masks = {name: mark_mask(image, glyph) for name, (image, glyph) in icons.items()}
    names = sorted(masks)
    for i, a in enumerate(names):
        assert sum(masks[a]) >= 8, f"the {a} mark is too small at 16 px"
        for b in names[i + 1 :]:
            differ = sum(x != y for x, y in zip(masks[a], masks[b]))
            assert differ >= 12, f"{a} and {b} differ in only {differ} pixels at 16 px"
            print(f"{a} / {b}: marks differ in {differ} of 256 pixels at 16 px")


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
    icons = {}
    for name, (fill, glyph, mark) in TRAY_STATES.items():
        icon = tray_icon(32, fill, glyph, mark)
        icon.save(HERE / f"tray-{name}.png")
        icons[name] = (icon, glyph)
    check_marks(icons)
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

"""Colour arithmetic for branding: any ``BRAND_COLOR`` must stay readable.

An operator picks one accent colour; the emails need text on it (buttons) and
it as text (links) on white. WCAG 2 contrast decides both, so a pale yellow
brand gets dark button text and a darker link colour instead of vanishing.
"""

from __future__ import annotations

__all__ = ["DARK_TEXT", "LIGHT_TEXT", "contrast", "luminance", "readable_on", "text_safe"]

LIGHT_TEXT = "#ffffff"
DARK_TEXT = "#111827"

# WCAG 2 AA for normal text.
MIN_CONTRAST = 4.5


def _rgb(color: str) -> tuple[int, int, int]:
    digits = color.lstrip("#")
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    if len(digits) != 6:
        raise ValueError(f"not a #rgb or #rrggbb colour: {color!r}")
    red, green, blue = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
    return red, green, blue


def luminance(color: str) -> float:
    """WCAG 2 relative luminance of ``#rgb`` / ``#rrggbb``, from 0 (black) to 1 (white)."""

    def channel(value: int) -> float:
        srgb = value / 255
        return srgb / 12.92 if srgb <= 0.04045 else ((srgb + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(value) for value in _rgb(color))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two colours, from 1 to 21."""
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def readable_on(background: str) -> str:
    """White or near-black, whichever reads better on ``background``."""
    if contrast(LIGHT_TEXT, background) >= contrast(DARK_TEXT, background):
        return LIGHT_TEXT
    return DARK_TEXT


def text_safe(color: str, background: str = "#ffffff") -> str:
    """``color``, darkened just enough to be readable as text on ``background``."""
    red, green, blue = _rgb(color)
    for step in range(21):
        factor = 1 - step / 20
        candidate = "#" + "".join(f"{round(value * factor):02x}" for value in (red, green, blue))
        if contrast(candidate, background) >= MIN_CONTRAST:
            return candidate
    return DARK_TEXT

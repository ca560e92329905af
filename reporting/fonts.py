"""The TrueType fonts embedded in report PDFs.

ReportLab's built-in Helvetica has no glyphs beyond Latin-1 (no "€" or "–"), so the reports
embed DejaVu Sans, vendored from npm by scripts/vendor_static.sh."""

from __future__ import annotations

import functools
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

REGULAR = "DejaVuSans"
BOLD = "DejaVuSans-Bold"


def font_dir() -> Path:
    return Path(settings.BASE_DIR) / "static" / "vendor" / "dejavu-fonts"


@functools.cache
def register_fonts() -> tuple[str, str]:
    """Register DejaVu Sans (regular, bold) with ReportLab once; returns their names.

    Registered as one family, so ``<b>`` in a Paragraph switches to the bold face."""
    directory = font_dir()
    files = {REGULAR: directory / "DejaVuSans.ttf", BOLD: directory / "DejaVuSans-Bold.ttf"}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise ImproperlyConfigured(
            f"Report fonts not found: {', '.join(missing)}. "
            "Run scripts/vendor_static.sh (it copies them from the npm package dejavu-fonts-ttf)."
        )
    for name, path in files.items():
        pdfmetrics.registerFont(TTFont(name, str(path)))
    addMapping(REGULAR, 0, 0, REGULAR)
    addMapping(REGULAR, 1, 0, BOLD)
    addMapping(REGULAR, 0, 1, REGULAR)
    addMapping(REGULAR, 1, 1, BOLD)
    return REGULAR, BOLD

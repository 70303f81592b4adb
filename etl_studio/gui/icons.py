"""The app's icons: simple SVGs bundled in resources/icons, drawn in the palette's text colour."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QGuiApplication, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

from etl_studio.bundled import RESOURCES

ICON_DIR = RESOURCES / "icons"
_SIZES = (16, 20, 24, 32, 48)


def icon_path(name: str) -> Path:
    return ICON_DIR / f"{name}.svg"


def _text_colour() -> str:
    app = QGuiApplication.instance()
    if app is None:
        return "#1f2328"
    return QGuiApplication.palette().color(QPalette.ColorRole.WindowText).name()


@lru_cache(maxsize=None)
def _icon(name: str, colour: str) -> QIcon:
    path = icon_path(name)
    if not path.exists():
        raise KeyError(f"no icon '{name}' in {ICON_DIR}")
    # Neutral strokes follow the palette so icons stay visible in a dark theme; accents
    # (green run, red stop ...) are fixed colours in the files.
    svg = path.read_text(encoding="utf-8").replace("currentColor", colour)
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    result = QIcon()
    for size in _SIZES:
        for ratio in (1, 2):
            image = QImage(size * ratio, size * ratio, QImage.Format.Format_ARGB32_Premultiplied)
            image.fill(Qt.GlobalColor.transparent)
            painter = QPainter(image)
            renderer.render(painter, QRectF(0, 0, size * ratio, size * ratio))
            painter.end()
            pixmap = QPixmap.fromImage(image)
            pixmap.setDevicePixelRatio(ratio)
            result.addPixmap(pixmap)
    return result


def icon(name: str) -> QIcon:
    """The bundled icon ``name`` (see resources/icons), coloured for the current palette."""
    return _icon(name, _text_colour())


def available() -> list[str]:
    return sorted(p.stem for p in ICON_DIR.glob("*.svg"))

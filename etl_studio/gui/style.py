"""The app's look: the system palette (light or dark), one stylesheet, shared colours and labels."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QSizePolicy, QWidget

from etl_studio.bundled import RESOURCES

STYLE_DIR = RESOURCES / "styles"

# Spacing in pixels, used by every layout so panels line up.
MARGIN = 10
SPACING = 6


def is_dark() -> bool:
    app = QGuiApplication.instance()
    if app is not None:
        scheme = QGuiApplication.styleHints().colorScheme()
        if scheme == Qt.ColorScheme.Dark:
            return True
        if scheme == Qt.ColorScheme.Light:
            return False
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def colour(role: str) -> QColor:
    """Semantic colours readable on both light and dark palettes."""
    dark = is_dark()
    table = {
        "error": "#ff6b6b" if dark else "#c62828",
        "warning": "#f0b429" if dark else "#a86500",
        "ok": "#5ccf85" if dark else "#1e7b3c",
        "muted": "#9aa0a6" if dark else "#6b7280",
        "error-bg": "#4a2323" if dark else "#fde8e8",
        "warning-bg": "#4a3b17" if dark else "#fff4d6",
        "unmapped-bg": "#4a3b17" if dark else "#fff4d6",
    }
    return QColor(table[role])


def apply_style(app: QApplication) -> None:
    """Fusion follows the system palette on every platform; the stylesheet only sets spacing."""
    app.setStyle("Fusion")
    sheet = STYLE_DIR / "app.qss"
    if sheet.exists():
        app.setStyleSheet(sheet.read_text(encoding="utf-8"))


def empty_state(text: str, object_name: str, parent: QWidget | None = None) -> QLabel:
    """A centred, muted hint that says what to do next ("No pipelines yet — click + to add one")."""
    label = QLabel(text, parent)
    label.setObjectName(object_name)
    label.setProperty("role", "empty-state")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    label.setStyleSheet(f"color: {colour('muted').name()}; padding: 24px;")
    return label


def status_label(object_name: str, parent: QWidget | None = None) -> QLabel:
    """A one-line message under a form: set_status(label, 'error', '...') colours it."""
    label = QLabel(parent)
    label.setObjectName(object_name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def set_status(label: QLabel, kind: str, text: str) -> None:
    """kind: 'ok', 'error', 'warning', 'muted' or '' (hide)."""
    label.setProperty("status", kind)
    if not kind or not text:
        label.clear()
        label.hide()
        return
    prefix = {"ok": "✓ ", "error": "✗ ", "warning": "⚠ "}.get(kind, "")
    label.setText(prefix + text)
    label.setStyleSheet(f"color: {colour(kind).name()};")
    label.show()

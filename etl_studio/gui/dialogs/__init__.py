"""Dialogs of the desktop app (connections ...)."""

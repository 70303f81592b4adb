"""Targets: loaders and load strategies per kind and dialect."""

"""Mapping: feed each target column from a source column or an expression, cast to its type."""

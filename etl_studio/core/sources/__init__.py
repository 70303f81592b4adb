"""Sources: one small module per kind, each yielding pandas DataFrame chunks."""

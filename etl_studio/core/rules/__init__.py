"""Quality rules: one small module per kind, plus the checker and quarantine."""

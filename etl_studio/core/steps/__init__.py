"""Transform steps: one small module per kind."""

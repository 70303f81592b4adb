"""Small reusable widgets: the expression editor, the mapping lines, charts."""

"""The engine: pure Python, pandas and SQLAlchemy. Never imports Qt."""

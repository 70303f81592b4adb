"""ETL Studio: build ETL pipelines by clicking, run them headless."""

__version__ = "0.1.0"

"""`python -m etl_studio` is the `etl-studio` command line."""

from etl_studio.cli import entry

if __name__ == "__main__":
    entry()

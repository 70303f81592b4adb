"""More `etl-studio` subcommands: each module here has ``register(subparsers)`` and is added by cli.build_parser.

Every module's command functions take the parsed args and return an exit code (0 / 1 / 2);
raising InvalidInputError gives exit code 2 and EtlError exit code 1, as in cli.py.
"""

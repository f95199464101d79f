"""Subcommands of the ``loop-async`` command line, one module each (see :mod:`loop_async._cli.main`)."""

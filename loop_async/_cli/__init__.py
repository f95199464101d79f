"""Subcommands of the ``loop-async`` command line, one module each (see :mod:`loop_async.cli`)."""

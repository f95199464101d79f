"""The ``loop-async`` command line: each module is one command, named after it.

A command is the same concept as the library package of that name, at the CLI layer (``bulk``
drives :mod:`loop_async.bulk`, ``webhooks`` :mod:`loop_async.webhooks`, ``temporal``
:mod:`loop_async.temporal`, ``returns`` and ``orders`` those resources). Not commands:
:mod:`.main`, the dispatcher (``register(subparsers)`` of each), and :mod:`._common`, what
they share. Commands parse, print and pick exit statuses; the decisions stay in the library.
"""

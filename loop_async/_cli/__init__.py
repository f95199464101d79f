"""The ``loop-async`` command line: each module is one command, named after it.

A command is the same concept as the library package of that name, at the CLI layer (``bulk``
drives :mod:`loop_async.bulk`, ``webhooks`` :mod:`loop_async.webhooks`, ``temporal`` (with
``worker``) :mod:`loop_async.temporal`, ``returns`` and ``orders`` those resources,
``fake_server`` :mod:`loop_async.testing`). Not commands: :mod:`.main`, the dispatcher (it calls
each command's ``register(subparsers)``), and :mod:`._common`, what they share. Commands parse,
print and choose exit statuses; every decision stays in the library.
"""

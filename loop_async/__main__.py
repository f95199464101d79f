"""``python -m loop_async``: the same as the ``loop-async`` command."""

from loop_async._cli.main import main

raise SystemExit(main())

"""The fake server speaks Loop's JSON on its own: it never imports the SDK's client side."""

from __future__ import annotations

import ast
from pathlib import Path

import loop_async.testing

PACKAGE = Path(loop_async.testing.__file__).parent
# Builds clients for the pytest fixtures: the one module allowed to reach the client.
CLIENT_BUILDERS = {"fixtures.py"}
FORBIDDEN = ("loop_async.models._convert", "loop_async._transport", "loop_async.hypermedia", "loop_async.resources",
             "loop_async.client")  # fmt: skip


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_fake_server_does_not_import_the_client_side() -> None:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in CLIENT_BUILDERS:
            continue
        imported = _imports(path)
        bad = sorted(
            name
            for name in imported
            if name == "loop_async" or any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
        )
        if bad:
            offenders[str(path.relative_to(PACKAGE))] = bad
    assert offenders == {}

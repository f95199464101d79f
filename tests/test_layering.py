"""The package's layering, checked from the source: each layer imports only the layers below it,
no import cycle, the fake server apart from the client side, and modules that stay small.

The rules are the ones `DESIGN.md` states; every import counts, including those under
``TYPE_CHECKING`` and inside functions.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "loop_async"

# Bottom to top. A module may import its own layer and the layers below it. A component is the
# first name under ``loop_async`` (a module or a package), or a module of a package listed on its
# own; "" is the package facade. ``_sansio/json.py`` imports nothing of the SDK: the bounded JSON
# codec that ``_response`` uses to parse a body again, below every other layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("_version", "_logs", "_sansio.json", "_response", "_suggest", "_callbacks"),
    ("errors",),
    ("_sansio",),
    ("models", "_hooks"),
    ("ratelimit", "webhooks"),
    ("_transport",),
    ("hypermedia",),
    ("resources",),
    ("client", "_config"),
    ("bulk", "otel"),
    ("testing", "temporal", "_cli", "__main__"),
    ("",),
)
LAYER_OF = {component: rank for rank, names in enumerate(LAYERS) for component in names}

# The fake server speaks Loop's JSON on its own: it never uses the SDK's client side (a bug
# shared by both would pass every test). Only the pytest fixtures build clients.
FAKE_SERVER_MAY_NOT_IMPORT = (
    "loop_async.models._convert",
    "loop_async._transport",
    "loop_async.hypermedia",
    "loop_async.resources",
    "loop_async.client",
    "loop_async.bulk",
)
FAKE_SERVER_CLIENT_SIDE_ALLOWED = ("loop_async.testing.fixtures",)

# Workflows are replayed: they import only their own data types (activities do the I/O).
WORKFLOW_MODULE = "loop_async.temporal.workflows"
WORKFLOW_MAY_IMPORT = {"loop_async.temporal._types"}

MAX_LINES = 400
LONG_MODULE_REASON = "over 400 lines"  # the phrase a long module's docstring must contain

# Module names used in more than one package: the same concept at different layers, as each
# module's docstring says.
SHARED_NAMES = {
    "return_data",  # the model, the resource and the fake's handler of Loop's return data
    "bulk",  # the jobs library and the ``loop-async bulk`` command
    "temporal",  # the Temporal integration and the ``loop-async temporal`` command
    "webhooks",  # the receiving side and the ``loop-async webhooks`` command
    "draft_returns",  # the model, the resource and the fake's handler of draft returns
    "warehouse",  # the models and the fake's handler of the warehouse endpoints
    "support",  # the models and the fake's handler of the support endpoints
    "webhook_subscriptions",  # the resource and the fake's handler of webhook subscriptions
    "return_actions",  # the models and the resource of the return actions
    "returns",  # the resource ``loop.returns`` and the ``loop-async returns`` command
    "orders",  # the resource and the ``loop-async orders`` command
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _imports(name: str, path: Path | None = None) -> Iterator[tuple[str, int]]:
    """Every ``loop_async`` module ``name`` imports, with the line, wherever the import sits."""
    path = path or MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "loop_async" or alias.name.startswith("loop_async."):
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                origin = ".".join([*base, node.module] if node.module else base)
            else:
                origin = node.module or ""
            if origin != "loop_async" and not origin.startswith("loop_async."):
                continue
            for alias in node.names:
                submodule = f"{origin}.{alias.name}"
                yield (submodule if submodule in MODULES else origin), node.lineno


def _component(name: str) -> str:
    parts = name.split(".")
    if ".".join(parts[1:3]) in LAYER_OF:
        return ".".join(parts[1:3])
    return parts[1] if len(parts) > 1 else ""


def _edges() -> dict[str, set[str]]:
    return {name: {target for target, _ in _imports(name) if target != name} for name in MODULES}


def test_every_component_has_a_layer() -> None:
    missing = sorted({_component(name) for name in MODULES} - set(LAYER_OF))
    assert not missing, f"give these modules a layer in LAYERS (and in DESIGN.md): {missing}"


def test_each_layer_imports_only_the_layers_below_it() -> None:
    upward = []
    for name in MODULES:
        own = LAYER_OF[_component(name)]
        for target, line in _imports(name):
            if target not in MODULES:
                upward.append(f"{name}:{line} imports {target}, which does not exist")
            elif LAYER_OF[_component(target)] > own:
                upward.append(f"{name}:{line} imports {target}, a layer above it")
    assert not upward, "\n".join(upward)


def test_a_module_imports_names_from_where_they_are_defined_not_from_a_facade_above_it() -> None:
    # A package's __init__ imports its submodules; a submodule importing it back is a cycle
    # waiting for the next name added to the facade.
    back = {
        f"{name}:{line} imports {target}, a facade of its own package"
        for name in MODULES
        for target, line in _imports(name)
        if _is_package(target) and name != target and (target == "loop_async" or name.startswith(target + "."))
    }
    assert not back, "\n".join(sorted(back))


def _cycle() -> list[str] | None:
    edges = _edges()
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_there_is_no_import_cycle() -> None:
    cycle = _cycle()
    assert cycle is None, "import cycle: " + " -> ".join(cycle or ())


def test_the_fake_server_never_imports_the_client_side() -> None:
    crossing = {
        f"{name}:{line} imports {target}"
        for name in MODULES
        if name.startswith("loop_async.testing") and name not in FAKE_SERVER_CLIENT_SIDE_ALLOWED
        for target, line in _imports(name)
        if target == "loop_async" or any(target == f or target.startswith(f + ".") for f in FAKE_SERVER_MAY_NOT_IMPORT)
    }
    assert not crossing, "\n".join(sorted(crossing))


def test_workflows_import_only_their_data_types() -> None:
    imported = {target for target, _ in _imports(WORKFLOW_MODULE)}
    assert imported <= WORKFLOW_MAY_IMPORT, sorted(imported - WORKFLOW_MAY_IMPORT)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_long_module_says_why_at_its_top(name: str) -> None:
    path = MODULES[name]
    source = path.read_text()
    if source.count("\n") <= MAX_LINES:
        return
    docstring = ast.get_docstring(ast.parse(source)) or ""
    assert LONG_MODULE_REASON in docstring.lower(), (
        f"{path.relative_to(PACKAGE.parent)} has {source.count(chr(10))} lines: split it, or say at its top "
        f"why it is {LONG_MODULE_REASON}"
    )


def test_module_names_are_not_reused_across_packages_except_for_one_concept() -> None:
    # A package is named by its folder: ``webhooks/`` and ``_cli/webhooks.py`` share a name.
    by_name: dict[str, list[str]] = {}
    for name in MODULES:
        if name != "loop_async":
            by_name.setdefault(name.rpartition(".")[2], []).append(name)
    reused = {stem: names for stem, names in by_name.items() if len(names) > 1 and stem not in SHARED_NAMES}
    assert not reused, f"modules of the same name in different packages: {reused}"
    unused = sorted(stem for stem in SHARED_NAMES if len(by_name.get(stem, ())) < 2)
    assert not unused, f"SHARED_NAMES lists names no two modules share: {unused}"


def test_the_checker_sees_imports_hidden_in_functions_and_type_checking_blocks(tmp_path: Path) -> None:
    # The rules above are only as good as the import reader: prove it on the forms it must see.
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from loop_async.client import LoopClient\n"
        "def f():\n    import loop_async.errors\n    from loop_async import _sansio\n"
        "from . import _version\n"
        "from .models import Money\n"
    )
    found = {target for target, _ in _imports("loop_async.probe", probe)}
    assert found == {
        "loop_async.client",
        "loop_async.errors",
        "loop_async._sansio",
        "loop_async._version",
        "loop_async.models",
    }

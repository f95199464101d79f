"""Every Python block of README.md and docs/*.md runs, and passes ``mypy --strict``.

A block is one of three kinds, told apart by its code:

- a **program** (it calls ``asyncio.run(...)`` at the top level) runs as is in a subprocess,
  against a started fake server named by ``LOOP_API_KEY`` / ``LOOP_BASE_URL`` (which
  ``LoopClient()`` reads), with ids of seeded open returns as its arguments;
- a **test module** (it defines ``test_*`` functions) runs under pytest in a subprocess, in
  pytest-asyncio's default strict mode, with the SDK's pytest plugin;
- a **fragment** (anything else) runs as the body of an ``async def`` whose parameters are the
  prelude names it uses (``loop``, ``server``, ``nav``, ...; see ``PRELUDE``), each a fresh
  object on a fake server of its own.

An HTML comment on the line before a block sets options, e.g. ``<!-- docs: continue -->``:
``continue`` runs the block after the one before it, in the same scope (the two are checked as
one); ``draft=items-finalized`` (or ``draft=ready``: credit type and return method set, ready to
submit) hands the block a draft (``nav``, ``draft_id``) already in that state; ``no-run``
checks the types only (for a block that needs what CI does not have: listed in ``NO_RUN``).

Every block (and every script of ``examples/``) is written to a temporary module and checked by
one ``mypy --strict`` run; errors are reported at the block's line in its Markdown file.
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from loop_async import LoopClient
from loop_async.testing import ALL_SCOPES, FakeLoopServer

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
OPTION = re.compile(r"<!--\s*docs:\s*(.*?)\s*-->")
KNOWN_OPTIONS = {"continue", "no-run", "draft"}

# The blocks that are type-checked but not run (``<!-- docs: no-run=NAME -->``), and why.
NO_RUN: dict[str, str] = {
    "webhook-receiver": "serves on port 8080 until stopped (web.run_app)",
    "return-action-catalogue": "one call per action, all on return 123 (tests/resources/test_return_actions.py runs each)",
    "temporal-cluster": "needs a Temporal server and workers (tests/temporal/ run these calls on a dev server)",
}


@dataclass
class Block:
    path: Path
    line: int  # the line of the block's first code line in its Markdown file
    code: str
    options: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


@dataclass
class Unit:
    """A block with the blocks that continue it: run and checked as one piece of code."""

    blocks: list[Block]

    @property
    def first(self) -> Block:
        return self.blocks[0]

    @property
    def code(self) -> str:
        return "\n".join(block.code for block in self.blocks)

    @property
    def options(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for block in self.blocks:
            merged.update(block.options)
        merged.pop("continue", None)
        return merged

    @property
    def kind(self) -> str:
        tree = ast.parse(self.code)
        for node in tree.body:
            if isinstance(node, ast.Expr) and _is_call(node.value, "asyncio.run"):
                return "program"
        if any(
            isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef) and node.name.startswith("test_")
            for node in tree.body
        ):
            return "pytest"
        return "fragment"

    def line_of(self, code_line: int) -> str:
        """The Markdown file and line of line ``code_line`` (1-based) of :attr:`code`."""
        for block in self.blocks:
            count = block.code.count("\n") + 1
            if code_line <= count:
                return f"{block.path.relative_to(ROOT)}:{block.line + code_line - 1}"
            code_line -= count
        return self.first.where


def _is_call(node: ast.expr, dotted: str) -> bool:
    return isinstance(node, ast.Call) and ast.unparse(node.func) == dotted


def extract(path: Path) -> list[Block]:
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        if lines[index].strip() in ("```python", "```py"):
            end = index + 1
            while not lines[end].startswith("```"):
                end += 1
            options: dict[str, str] = {}
            before = index - 1
            while before >= 0 and not lines[before].strip():
                before -= 1
            if before >= 0 and (match := OPTION.fullmatch(lines[before].strip())):
                for option in match.group(1).split():
                    name, _, value = option.partition("=")
                    assert name in KNOWN_OPTIONS, f"{path.name}:{before + 1}: unknown docs option {name!r}"
                    options[name] = value
            blocks.append(Block(path, index + 2, "\n".join(lines[index + 1 : end]), options))
            index = end
        index += 1
    return blocks


def units() -> list[Unit]:
    found: list[Unit] = []
    for path in DOC_FILES:
        for block in extract(path):
            if "continue" in block.options:
                assert found and found[-1].first.path == path, f"{block.where}: nothing to continue"
                found[-1].blocks.append(block)
            else:
                found.append(Unit([block]))
    return found


UNITS = units()


# --- the prelude: the names a fragment may use without defining them --------------------------


@dataclass
class Context:
    server: FakeLoopServer
    loop: LoopClient
    options: Mapping[str, str]


async def _nav(ctx: Context) -> Any:
    order = ctx.server.orders[0]
    nav = await ctx.loop.draft_returns.create(order.name, order.zip)
    state = ctx.options.get("draft", "created")
    assert state in ("created", "items-finalized", "ready"), state
    if state != "created":
        nav = await nav.follow("add-returning-item", order_line_item_id=order.eligible_line_items[0].id)
        for item_id in nav.links.family("set-returning-item-return-reason"):
            nav = await nav.follow_member("set-returning-item-return-reason", item_id, return_reason_id=1)
        nav = await nav.follow("finalize-items")
    if state == "ready":
        context = nav.resource.context
        nav = await nav.follow("set-credit-type", credit_type=context.available_credit_types[0])
        nav = await nav.follow("select-return-method", return_method_id=context.return_methods[0].id)
    return nav


async def _line_items(ctx: Context) -> list[int]:
    order = ctx.server.orders[1]
    return_id = ctx.server.seed_return(order.name, line_item_ids=[li.id for li in order.eligible_line_items])
    ret = await ctx.loop.returns.get(return_id=return_id)
    return [item.line_item_id for item in ret.line_items if item.line_item_id is not None]


async def _store_for_later(topic: str, trigger: str, raw: Mapping[str, Any]) -> None:
    """Stands for the reader's own code."""


def _value(value: Any) -> Callable[[Context], Awaitable[Any]]:
    async def make(ctx: Context) -> Any:
        return value(ctx) if callable(value) else value

    return make


async def _draft_id(ctx: Context) -> int:
    nav = await _nav(ctx)
    draft_id: int = nav.resource.draft_return.id
    return draft_id


def _now() -> datetime:
    return datetime.now(timezone.utc)


# name -> (the annotation mypy sees, what the block gets)
PRELUDE: dict[str, tuple[str, Callable[[Context], Awaitable[Any]]]] = {
    "loop": ("_p.LoopClient", _value(lambda ctx: ctx.loop)),
    "server": ("_pt.FakeLoopServer", _value(lambda ctx: ctx.server)),
    "api_key": ("str", _value(lambda ctx: ctx.server.api_key)),
    "key": ("str", _value(lambda ctx: ctx.server.api_key)),
    "acme_key": ("str", _value("acme-key")),
    "globex_key": ("str", _value("globex-key")),
    "secret": ("str", _value(lambda ctx: ctx.server.webhook_secret)),
    "order_name": ("str", _value(lambda ctx: ctx.server.orders[0].name)),
    "zip_code": ("str", _value(lambda ctx: ctx.server.orders[0].zip)),
    "return_id": ("int", _value(lambda ctx: ctx.server.seed_return())),
    "return_ids": ("list[int]", _value(lambda ctx: [ctx.server.seed_return() for _ in range(3)])),
    "acme_return_ids": ("list[int]", _value(lambda ctx: [ctx.server.seed_return() for _ in range(3)])),
    "globex_return_ids": ("list[int]", _value(lambda ctx: [ctx.server.seed_return() for _ in range(2)])),
    "line_items": ("list[int]", _line_items),
    "draft_id": ("int", _draft_id),
    "nav": ("_ph.Navigator[_pm.DraftReturnResponse]", _nav),
    "router": ("_pw.WebhookRouter", _value(lambda ctx: __import__("loop_async.webhooks").webhooks.WebhookRouter())),
    "start": ("_dt.datetime", _value(lambda ctx: _now() - timedelta(days=7))),
    "end": ("_dt.datetime", _value(lambda ctx: _now())),
    "log": ("_logging.Logger", _value(lambda ctx: __import__("logging").getLogger("docs"))),
    "store_for_later": (
        "_abc.Callable[[str, str, _abc.Mapping[str, _t.Any]], _abc.Awaitable[None]]",
        _value(lambda ctx: _store_for_later),
    ),
    "database_is_down": ("_abc.Callable[[], bool]", _value(lambda ctx: lambda: False)),
}

PRELUDE_IMPORTS = """\
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the prelude's types; the block imports what it uses itself
    import collections.abc as _abc
    import datetime as _dt
    import logging as _logging
    import typing as _t

    import loop_async as _p
    import loop_async.hypermedia as _ph
    import loop_async.models as _pm
    import loop_async.testing as _pt
    import loop_async.webhooks as _pw
"""


def used_prelude_names(code: str) -> list[str]:
    names = {node.id for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Name)}
    return [name for name in PRELUDE if name in names]


def module_source(unit: Unit) -> tuple[str, int]:
    """The module mypy checks and the fragment runs as; and how many lines precede the code."""
    if unit.kind != "fragment":
        return unit.code + "\n", 0
    params = ", ".join(f"{name}: {PRELUDE[name][0]}" for name in used_prelude_names(unit.code))
    head = PRELUDE_IMPORTS + f"\n\nasync def _block({params}) -> None:\n"
    body = textwrap.indent(unit.code, "    ")
    if not ast.parse(unit.code).body:  # only comments
        body += "\n    pass"
    return head + body + "\n", head.count("\n")


def module_name(unit: Unit) -> str:
    stem = re.sub(r"\W", "_", str(unit.first.path.relative_to(ROOT).with_suffix("")))
    return f"docs_{stem}_{unit.first.line}"


def _units(kind: str) -> list[Any]:
    return [
        pytest.param(unit, id=unit.first.where) for unit in UNITS if unit.kind == kind and "no-run" not in unit.options
    ]


@asynccontextmanager
async def started_fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakeLoopServer, LoopClient]]:
    keys = {"test-key": ALL_SCOPES, "acme-key": ALL_SCOPES, "globex-key": ALL_SCOPES}
    async with FakeLoopServer(api_keys=keys) as server:
        monkeypatch.setenv("LOOP_API_KEY", server.api_key)
        monkeypatch.setenv("LOOP_BASE_URL", str(server.url))
        async with LoopClient(server.api_key, base_url=server.url, rate_limit=None) as loop:
            yield server, loop
        await server.wait_idle()


def test_the_blocks_are_found_and_their_options_known() -> None:
    kinds = {kind: sum(unit.kind == kind for unit in UNITS) for kind in ("program", "pytest", "fragment")}
    assert kinds["program"] >= 3 and kinds["pytest"] >= 1 and kinds["fragment"] >= 10, kinds
    no_run = {unit.options["no-run"] for unit in UNITS if "no-run" in unit.options}
    assert no_run == set(NO_RUN), "mark each no-run block with a name listed in NO_RUN (and only those)"


def test_every_block_and_example_passes_mypy_strict(tmp_path: Path) -> None:
    where: dict[str, tuple[Unit, int]] = {}
    for unit in UNITS:
        source, offset = module_source(unit)
        name = module_name(unit)
        (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
        where[f"{name}.py"] = (unit, offset)
    examples = sorted(str(path) for path in (ROOT / "examples").glob("*.py"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--show-error-codes",
            *sorted(str(path) for path in tmp_path.glob("*.py")),
            *examples,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    problems = []
    for line in result.stdout.splitlines():
        match = re.match(r"(.+?):(\d+): (error|note): (.*)", line)
        if match and Path(match.group(1)).name in where:
            unit, offset = where[Path(match.group(1)).name]
            line = f"{unit.line_of(int(match.group(2)) - offset)}: {match.group(3)}: {match.group(4)}"
        problems.append(line)
    assert result.returncode == 0, "mypy --strict:\n" + "\n".join(problems) + result.stderr


@pytest.mark.parametrize("unit", _units("fragment"))
async def test_fragment_runs(unit: Unit, monkeypatch: pytest.MonkeyPatch) -> None:
    source, _ = module_source(unit)
    namespace: dict[str, Any] = {"__name__": module_name(unit)}
    exec(compile(source, unit.first.where, "exec"), namespace)
    async with started_fake(monkeypatch) as (server, loop):
        ctx = Context(server, loop, unit.options)
        arguments = {name: await PRELUDE[name][1](ctx) for name in used_prelude_names(unit.code)}
        await asyncio.wait_for(namespace["_block"](**arguments), 60)


@pytest.mark.parametrize("unit", _units("program"))
async def test_program_runs(unit: Unit, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    script = tmp_path / f"{module_name(unit)}.py"
    script.write_text(unit.code + "\n", encoding="utf-8")
    async with started_fake(monkeypatch) as (server, _):
        return_ids = [str(server.seed_return()) for _ in range(3)]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            *return_ids,
            cwd=tmp_path,
            env=dict(os.environ),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), 90)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert process.returncode == 0, f"{unit.first.where} failed:\n{out.decode()}\n{err.decode()}"


@pytest.mark.parametrize("unit", _units("pytest"))
def test_test_module_passes(unit: Unit, tmp_path: Path) -> None:
    (tmp_path / f"test_{module_name(unit)}.py").write_text(unit.code + "\n", encoding="utf-8")
    # pytest-asyncio's default (strict) mode, warnings as errors: as a user's project would run it.
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nfilterwarnings = error\nasyncio_default_fixture_loop_scope = function\n", encoding="utf-8"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0 and " passed" in result.stdout, f"{unit.first.where}:\n{result.stdout}{result.stderr}"


# Calls that change something at Loop: the README's first example must make none of them.
CHANGES = {
    "process",
    "cancel",
    "close",
    "remove_line_items",
    "flag",
    "create_note",
    "follow",
    "follow_member",
    "create",
    "update",
    "delete",
    "submit",
    "grade",
    "assess",
    "report_fraud",
    "request",
}


def test_the_readmes_first_example_changes_nothing() -> None:
    first = next(unit for unit in UNITS if unit.first.path.name == "README.md")
    called = {
        node.func.attr
        for node in ast.walk(ast.parse(first.code))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert first.kind == "program" and not called & CHANGES, (first.first.where, called & CHANGES)


def test_the_readmes_links_reach_files_of_the_repository() -> None:
    """The README is read on its own (a clone, the package index): each relative link must exist."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    relative = [t for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]
    assert relative, "the README links into docs/"
    missing = [t for t in relative if not (ROOT / t.split("#")[0]).exists()]
    assert not missing, missing
    for target in relative:
        path, _, anchor = target.partition("#")
        if anchor and path.endswith(".md"):
            headings = re.findall(r"^#+ (.+)$", (ROOT / path).read_text(encoding="utf-8"), re.M)
            slugs = {re.sub(r"[^\w\- ]", "", h.lower()).strip().replace(" ", "-") for h in headings}
            assert anchor in slugs, (target, sorted(slugs))
    own = {re.sub(r"[^\w\- ]", "", h.lower()).strip().replace(" ", "-") for h in re.findall(r"^## (.+)$", text, re.M)}
    assert {t[1:] for t in targets if t.startswith("#")} <= own


def test_every_test_the_docs_cite_as_evidence_exists() -> None:
    """``tests/x.py::test_name`` in the README, SECURITY.md or the docs names a real test function."""
    texts = [ROOT / "README.md", ROOT / "SECURITY.md", ROOT / "DESIGN.md", *sorted((ROOT / "docs").rglob("*.md"))]
    cited = {
        match
        for path in texts
        for match in re.findall(r"(tests/[\w/]+\.py)::(test_\w+)", path.read_text(encoding="utf-8"))
    }
    assert cited, "the docs cite their evidence"
    missing = [
        f"{file}::{name}"
        for file, name in sorted(cited)
        if not (ROOT / file).exists() or not re.search(rf"def {name}\b", (ROOT / file).read_text(encoding="utf-8"))
    ]
    assert not missing, f"cited tests that do not exist: {missing}"
    paths = {p for path in texts for p in re.findall(r"\b((?:tests|loop_async)/[\w/]+\.py)\b", path.read_text("utf-8"))}
    gone = sorted(p for p in paths if not (ROOT / p).exists())
    assert not gone, f"files the docs name that do not exist: {gone}"

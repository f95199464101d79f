"""``loop_async.hypermedia.__all__``: sorted, importable, and it holds every name the docs import from it."""

from __future__ import annotations

import re
from pathlib import Path

import loop_async.hypermedia

ROOT = Path(__file__).resolve().parents[2]
IMPORT = re.compile(r"from loop_async\.hypermedia import (?:\(([^)]*)\)|([^\n(]+))")


def test_all_is_sorted_and_importable() -> None:
    names = list(loop_async.hypermedia.__all__)
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    for name in names:
        assert hasattr(loop_async.hypermedia, name), name


def test_every_name_the_docs_import_is_public() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "examples").rglob("*.py"))]
    used = {
        name.strip()
        for page in pages
        for match in IMPORT.finditer(page.read_text())
        for name in (match.group(1) or match.group(2)).split(",")
        if name.strip()
    }
    assert used, "the docs import something from loop_async.hypermedia"
    assert used <= set(loop_async.hypermedia.__all__)

"""The curated public surface: sorted ``__all__``, all of it importable and documented."""

from __future__ import annotations

import re
from pathlib import Path

import loop_async
import loop_async.errors
import loop_async.models

# The list of public names moved with the rest of the reference material from the README to the docs.
PUBLIC_API_PAGE = Path(__file__).resolve().parents[1] / "docs" / "reference" / "index.md"


def test_all_is_sorted_and_importable() -> None:
    for module in (loop_async, loop_async.errors, loop_async.models):
        names = list(module.__all__)
        assert names == sorted(names), module.__name__
        assert len(set(names)) == len(names)
        for name in names:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_public_names_are_documented_in_the_api_reference() -> None:
    text = PUBLIC_API_PAGE.read_text()
    match = re.search(r"<!-- public-api -->(.*?)<!-- /public-api -->", text, re.S)
    assert match, "docs/reference/index.md must list the public API between <!-- public-api --> markers"
    documented = set(re.findall(r"`(\w+)`", match.group(1)))
    assert documented == set(loop_async.__all__)


def test_public_callables_have_docstrings() -> None:
    for name in loop_async.__all__:
        obj = getattr(loop_async, name)
        if callable(obj):
            assert obj.__doc__, name

"""A Griffe extension for the docs build: the docstrings' reST roles read as Markdown.

The SDK's docstrings use Sphinx roles (``:class:`~loop_async.errors.LoopError```) and ``::``
literal blocks; mkdocstrings renders Markdown, where those show as stray colons. Each role
becomes a code span of the name (its last part with ``~``, as Sphinx shows it); a paragraph's
closing ``::`` becomes ``:`` (the indented block after it is already a code block).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|exc|obj|const):`(~?)([^`]+)`")
LITERAL = re.compile(r"(\S)::\n")


def _markdown(text: str) -> str:
    def role(match: re.Match[str]) -> str:
        target = match.group(2)
        return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"

    return LITERAL.sub(r"\1:\n", ROLE.sub(role, text)).replace("\n::\n", "\n")


class RstRoles(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _markdown(obj.docstring.value)

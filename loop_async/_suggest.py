"""Suggesting the name a typo meant: "did you mean ...?" for rels and field names.

Pure text, no I/O and no SDK import, so that :mod:`loop_async.errors` and the argument checks
can both use it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["did_you_mean"]


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to ``word``, if one is close enough to be a likely typo.

    A typo, not another action: the leading words (the verbs, ``submit`` in
    ``submit-draft-return``) must be close too, so ``cancel-draft-return`` is never offered for
    a missing ``submit-draft-return``.
    """
    verb = word.split("-", 1)[0]
    for match in difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.6):
        if difflib.SequenceMatcher(None, verb, match.split("-", 1)[0]).ratio() >= 0.6:
            return match
    return None

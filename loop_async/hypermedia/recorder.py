"""Collect the transitions seen across many flows and draw them as a Mermaid state diagram."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from loop_async.hypermedia.navigator import Navigator

__all__ = ["TransitionRecorder", "generalise_rel"]

_TRAILING_ID = re.compile(r"-(\d+|[0-9a-fA-F]{8}-[0-9a-fA-F-]{27})$")


def generalise_rel(rel: str) -> str:
    """``set-item-note-74`` → ``set-item-note-{id}`` (a trailing number or UUID becomes ``{id}``)."""
    return _TRAILING_ID.sub("-{id}", rel)


class TransitionRecorder:
    """A :class:`~loop_async.hypermedia.navigator.TransitionObserver` that counts transitions.

    ``state_of(nav)`` names a navigator's state (e.g. ``lambda nav: nav.resource.state``);
    ``rel_label(rel)`` names an edge (by default a trailing id becomes ``{id}``, so that one
    edge stands for a whole rel family). Attach it with ``nav.with_observer(recorder)``.

    A state is drawn as a start (``[*] -->``) only when a transition leaves a navigator marked
    :attr:`~loop_async.hypermedia.Navigator.created` (the answer of the call that created the
    resource): a resource loaded mid-flow does not add a false start.
    """

    def __init__(
        self,
        state_of: Callable[[Navigator[Any]], object],
        *,
        rel_label: Callable[[str], str] = generalise_rel,
    ) -> None:
        self._state_of = state_of
        self._rel_label = rel_label
        self.transitions: Counter[tuple[str, str, str]] = Counter()
        """``(state, rel label, next state)`` → how many times it was seen."""
        self.initial: set[str] = set()
        self.terminal: set[str] = set()

    def _name(self, nav: Navigator[Any]) -> str:
        return str(self._state_of(nav))

    def transitioned(self, before: Navigator[Any], rel: str, after: Navigator[Any]) -> None:
        """Record one transition (called by the navigator after each follow)."""
        start, end = self._name(before), self._name(after)
        if before.created:
            self.initial.add(start)
        if after.is_terminal:
            self.terminal.add(end)
        self.transitions[(start, self._rel_label(rel), end)] += 1

    def to_mermaid(self, *, counts: bool = False) -> str:
        """A ``stateDiagram-v2`` of every transition seen (``counts`` adds how often)."""
        names = sorted({s for s, _, _ in self.transitions} | {e for _, _, e in self.transitions})
        ids = {name: f"s{i}" for i, name in enumerate(names)}
        lines = ["stateDiagram-v2"]
        lines += [f'    state "{_escape(name)}" as {ids[name]}' for name in names]
        lines += [f"    [*] --> {ids[name]}" for name in sorted(self.initial)]
        for (start, rel, end), seen in sorted(self.transitions.items()):
            label = f"{rel} ({seen}x)" if counts else rel
            lines.append(f"    {ids[start]} --> {ids[end]}: {_escape(label)}")
        lines += [f"    {ids[name]} --> [*]" for name in sorted(self.terminal)]
        return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    # Mermaid labels end at a newline, and a double quote ends a state name.
    return text.replace('"', "'").replace("\n", " ").replace(":", "#58;")

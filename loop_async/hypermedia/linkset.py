"""An ordered, read-only collection of links, looked up by rel or by rel family."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from loop_async.errors import RelNotAvailableError
from loop_async.models.links import Link

__all__ = ["LinkSet"]


class LinkSet:
    """The links a resource offers now, in the order the server sent them.

    Rels that embed an id (``set-item-note-74``) form a *family*: the prefix before the id
    (``set-item-note``) and one member per id.
    """

    __slots__ = ("_by_rel", "_links")

    def __init__(self, links: Iterable[Link]) -> None:
        self._links = tuple(links)
        by_rel: dict[str, Link] = {}
        for link in self._links:
            by_rel.setdefault(link.rel, link)  # a repeated rel: the first one wins, as in HTML
        self._by_rel = by_rel

    @property
    def rels(self) -> tuple[str, ...]:
        """Every rel, in server order, without repeats."""
        return tuple(self._by_rel)

    @property
    def required(self) -> tuple[Link, ...]:
        """The links marked ``is_required``, in server order."""
        return tuple(link for link in self._links if link.is_required)

    def get(self, rel: str) -> Link | None:
        """The link with this rel, or ``None``."""
        return self._by_rel.get(rel)

    def __getitem__(self, rel: str) -> Link:
        """The link with this rel, or :class:`RelNotAvailableError` naming the rels available."""
        link = self._by_rel.get(rel)
        if link is None:
            raise RelNotAvailableError(rel, self.rels)
        return link

    def family(self, prefix: str) -> Mapping[str, Link]:
        """Members of a rel family by their id: ``family("remove-item")`` → ``{"74": Link}``.

        A member is a rel that starts with ``prefix + "-"``; its id is the rest (which may
        itself contain dashes, e.g. a UUID).
        """
        head = prefix.rstrip("-") + "-"
        return {rel[len(head) :]: link for rel, link in self._by_rel.items() if rel.startswith(head) and rel != head}

    def member(self, prefix: str, member_id: object) -> Link:
        """The family member with this id, or :class:`RelNotAvailableError` naming the ids there are."""
        rel = f"{prefix.rstrip('-')}-{member_id}"
        link = self._by_rel.get(rel)
        if link is None:
            members = self.family(prefix)
            available = [f"{prefix.rstrip('-')}-{key}" for key in members] if members else list(self.rels)
            raise RelNotAvailableError(rel, available)
        return link

    def __contains__(self, rel: object) -> bool:
        return rel in self._by_rel

    def __iter__(self) -> Iterator[Link]:
        return iter(self._links)

    def __len__(self) -> int:
        return len(self._links)

    def __bool__(self) -> bool:
        return bool(self._links)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LinkSet) and self._links == other._links

    def __hash__(self) -> int:
        return hash(self._links)

    def __repr__(self) -> str:
        return f"LinkSet({list(self.rels)!r})"

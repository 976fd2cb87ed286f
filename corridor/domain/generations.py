"""How many generations apart family links put two persons, so that a new link that
contradicts the links recorded (a person their own grandparent, a parent who is also
a sibling) is refused.

Only the links that say the generation exactly count: a parent is one generation up, a
grandparent two, a child one down, a grandchild two, a sibling or twin none. A spouse,
a cousin, an uncle or aunt (of any age) and another relative say nothing certain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

# "other is person's <kind>": the other's generation minus the person's.
GENERATIONS = {
    "parent": 1,
    "grandparent": 2,
    "child": -1,
    "grandchild": -2,
    "sibling": 0,
    "twin": 0,
}
# Links stored: (person, other, kind), each with its inverse.
Links = Callable[[set[str]], Iterable[tuple[str, str, str]]]


def generations_apart(start: str, goal: str, links: Links, max_steps: int = 8) -> int | None:
    """The generations from ``start`` up to ``goal`` that the recorded links imply, None
    when no chain of exact links joins them (within ``max_steps`` links).

    >>> recorded = {("a", "b", "parent"), ("b", "a", "child"), ("b", "c", "sibling"),
    ...             ("c", "b", "sibling")}
    >>> def links(ids):
    ...     return [link for link in recorded if link[0] in ids]
    >>> generations_apart("a", "c", links)  # c is a's parent's sibling
    1
    >>> generations_apart("a", "z", links) is None
    True
    """
    seen = {start: 0}
    frontier = {start}
    for _ in range(max_steps):
        if goal in seen or not frontier:
            break
        reached: set[str] = set()
        for person, other, kind in links(frontier):
            step = GENERATIONS.get(kind)
            if step is None or other in seen:
                continue
            seen[other] = seen[person] + step
            reached.add(other)
        frontier = reached
    return seen.get(goal)

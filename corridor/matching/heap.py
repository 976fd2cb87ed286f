"""Python's garbage collector around bulk matching work.

Indexing a registry makes millions of small objects (name units, keys, chains) and no
reference cycles, and they live as long as the index. The collector runs every few
hundred allocations and, at each full collection, walks every object alive: on
names-dev's 30,347 records that was about a fifth of the processor time of building the
index and of answering the queries (``docs/performance.md``, "Session 29").

``collector_paused`` turns it off while a bulk build runs; ``heap_frozen`` leaves the
objects alive at its start out of every later collection, which also keeps the
collector from writing to them in forked workers (their pages stay shared with the
parent instead of being copied into each worker). Both restore what they changed.

>>> import gc
>>> with collector_paused():
...     gc.isenabled()
False
>>> gc.isenabled()
True
>>> with heap_frozen():
...     gc.get_freeze_count() > 0
True
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused", "heap_frozen"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic collection inside the block (it is turned back on after it, if it
    was on before)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


@contextmanager
def heap_frozen() -> Iterator[None]:
    """The objects alive at the start of the block are never walked by a collection
    inside it (nor in processes forked inside it); at its end they are collected as
    before."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()

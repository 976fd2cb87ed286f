"""Real Syrian and Iraqi name parts in both scripts, and Latin spelling variants.

The table is shipped in the package (``data/common-names-syria-iraq.tsv``). Variants
follow the ways one Arabic name is written in Latin letters by different registrars.
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import accumulate


@dataclass(frozen=True)
class NamePart:
    latin: str
    arabic: str
    kind: str  # male, female, family
    rank: int


@cache
def name_parts() -> dict[str, list[NamePart]]:
    text = (
        resources.files("corridor.demo")
        .joinpath("data/common-names-syria-iraq.tsv")
        .read_text("utf-8")
    )
    out: dict[str, list[NamePart]] = {"male": [], "female": [], "family": []}
    for row in csv.DictReader(text.splitlines(), delimiter="\t"):
        out[row["kind"]].append(
            NamePart(row["latin"], row["arabic"], row["kind"], int(row["rank"]))
        )
    return out


@cache
def _cumulative_weights(kind: str) -> list[float]:
    return list(accumulate(1.0 / (p.rank**0.8) for p in name_parts()[kind]))


def pick(rng: random.Random, kind: str) -> NamePart:
    """Common names more often than rare ones (a Zipf-like draw over the rank)."""
    return rng.choices(name_parts()[kind], cum_weights=_cumulative_weights(kind), k=1)[0]


_RULES: list[tuple[str, str]] = [
    (r"ou", "u"),
    (r"u", "ou"),
    (r"ee", "i"),
    (r"mm", "m"),
    (r"^Mohammed$", "Muhammad"),
    (r"^Mohammed$", "Mohamad"),
    (r"^al-", "el-"),
    (r"^al-", "Al-"),
    (r"^al-", "Al"),
    (r"dh", "d"),
    (r"kh", "k"),
    (r"ah$", "a"),
    (r"a$", "ah"),
    (r"^Abdul ?", "Abdel"),
    (r"^Abd al-", "Abdul "),
    (r"i$", "y"),
    (r"ei", "ai"),
    (r"q", "k"),
]


def spelling_variant(rng: random.Random, latin: str) -> str:
    """One plausible other Latin spelling of ``latin`` (or ``latin`` itself)."""
    options = []
    for pattern, repl in _RULES:
        new = re.sub(pattern, repl, latin, count=1)
        if new != latin:
            options.append(new)
    return rng.choice(options) if options else latin

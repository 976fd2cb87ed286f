"""Build the shipped data tables from the shared name lists (a developer tool).

    python -m corridor.matching._build_data WIKIDATA.tsv COMMON-NAMES.tsv

writes ``corridor/matching/data/name-variants.tsv``, ``latin-names.tsv``,
``latin-keys.tsv``, ``article-names.txt`` and ``name-frequencies.tsv``.
Only pairs the spelling rules do not already connect are kept, so the table
stays small and holds the real exceptions (Gamal/جمال, Mehmet/محمد ...).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from corridor.matching.blocking import coarse_skeleton
from corridor.matching.compare import rules_connect
from corridor.matching.keys import latin_key, skeleton, unit_keys
from corridor.matching.normalise import fold_doubles, normalise_latin, parse_name

DATA = Path(__file__).parent / "data"


def _pairs(wikidata: Path, common: Path) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    with wikidata.open(encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 3:
                continue
            latin, arabic, count = cols[0], cols[1].replace(" ", ""), int(cols[2] or 1)
            out.append((latin, arabic, count))
    with common.open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            out.append((row["latin"], row["arabic"], 1000))
    return out


def main(argv: list[str]) -> None:
    wikidata, common = Path(argv[0]), Path(argv[1])
    table: dict[str, set[str]] = {}
    counts: dict[tuple[str, str], int] = {}
    # Every plausibly aligned (Latin key, Arabic) pair, rule-connected or not: which
    # Arabic name a Latin spelling stands for (Fatma and Fatima both for فاطمة).
    spelled: dict[str, dict[str, int]] = {}
    for latin, arabic, count in _pairs(wikidata, common):
        la_units = parse_name(latin)
        ar_units = parse_name(arabic)  # its hamzas tell إلياس from the article
        if len(la_units) != len(ar_units):
            continue
        for lu, au in zip(la_units, ar_units, strict=True):
            if au.script != "ar" or lu.script != "la":
                continue
            ka, kl = unit_keys(au), unit_keys(lu)
            ca, cl = coarse_skeleton(ka.skeleton), coarse_skeleton(kl.skeleton)
            if Levenshtein.distance(ca, cl) > max(1, len(ca) // 3):
                continue  # a misaligned label pair, not a spelling
            per = spelled.setdefault(kl.latin, {})
            per[au.text] = per.get(au.text, 0) + count
            if rules_connect(ka, kl):
                continue
            pair = (au.text, latin_key(lu))
            counts[pair] = counts.get(pair, 0) + count
    for (ar, la), n in counts.items():
        if n >= 2:
            table.setdefault(ar, set()).add(la)
    with (DATA / "name-variants.tsv").open("w", encoding="utf-8") as f:
        f.write("# arabic<TAB>latin keys; built by corridor.matching._build_data\n")
        for ar in sorted(table):
            f.write(f"{ar}\t{','.join(sorted(table[ar]))}\n")

    # Latin spelling -> the Arabic name it stands for, where the data say so clearly
    # (seen at least 3 times, 60 % of them for one Arabic name).
    with (DATA / "latin-names.tsv").open("w", encoding="utf-8") as f:
        f.write("# latin key<TAB>arabic name it spells; built by corridor.matching._build_data\n")
        for key in sorted(spelled):
            per = spelled[key]
            arabic, n = max(sorted(per.items()), key=lambda kv: kv[1])
            if n >= 3 and n >= 0.6 * sum(per.values()):
                f.write(f"{key}\t{arabic}\n")

    # Every Latin spelling seen at least 3 times for an Arabic name, clear or not (Hamid
    # spells حامد and حميد): the names the data know, which the comparator never reads
    # another way (``VariantTable.knows``).
    with (DATA / "latin-keys.tsv").open("w", encoding="utf-8") as f:
        f.write("# latin key<TAB>times seen; built by corridor.matching._build_data\n")
        for key in sorted(spelled):
            seen = sum(spelled[key].values())
            if key and seen >= 3:
                f.write(f"{key}\t{seen}\n")

    # Names that may follow the article, to tell Alhasan (al + Hasan) from Alaa or
    # Elias when the article is glued: every name of the common-names list, its
    # own article dropped, doubled letters folded.
    names: set[str] = set()
    with common.open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            words = [w for w in normalise_latin(row["latin"]).replace("-", " ").split() if w]
            if words and words[0] in ("al", "el"):
                words = words[1:]
            if len(words) == 1:
                names.add(fold_doubles(words[0]))
    with (DATA / "article-names.txt").open("w", encoding="utf-8") as f:
        f.write("# names that follow the article; built by corridor.matching._build_data\n")
        for name in sorted(names):
            f.write(f"{name}\n")

    # Default frequencies: Zipf shares by rank in the common-names list.
    freq: dict[str, float] = {}
    with common.open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            rank = int(row["rank"])
            share = {"male": 0.15, "female": 0.08}.get(row["kind"], 0.03) / rank
            for unit in parse_name(row["latin"]) + parse_name(row["arabic"]):
                sk = skeleton(unit)
                freq[sk] = max(freq.get(sk, 0.0), share)
    with (DATA / "name-frequencies.tsv").open("w", encoding="utf-8") as f:
        f.write("# skeleton<TAB>persons per million; Zipf by rank of common-names-syria-iraq\n")
        for sk in sorted(freq):
            f.write(f"{sk}\t{max(1, round(freq[sk] * 1_000_000))}\n")


if __name__ == "__main__":
    main(sys.argv[1:])

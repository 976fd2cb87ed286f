"""Corridor's comparisons as a Splink model: levels, weights, blocking, saved as JSON.

The model file (``corridor/linkage/data/splink-model.json``, format
``corridor-splink-model/1``) is *set from Corridor's model* (``corridor.matching.Model``):
each comparison level carries the weight in bits that Corridor's engine gives the same
evidence (``bits``), or, for a name agreeing, Corridor's ``m`` with Splink's term-frequency
adjustment (the weight is then ``log2(m / share)``, the share being how many persons of
the registry bear that name: Corridor's rarity rule). ``python -m corridor.linkage.model``
rebuilds the file from the shipped Corridor model. ``splink_settings`` turns the file into
a Splink settings dictionary for one SQL dialect (DuckDB or Spark), so the same file runs
on both.

Prior: the registry holds a person at most once, so the prior odds of two records being
one person are about ``1 / population`` (Corridor's ``log2(population)``);
``threshold_weight`` turns a Corridor probability into the Splink match weight above
which two records are one person, with Corridor's calibration slope.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from corridor.matching.model import Model

__all__ = [
    "SPLINK_MODEL_FORMAT",
    "SplinkModel",
    "block_keys_sql",
    "tf_tables_sql",
    "build_model",
    "splink_settings",
]

SPLINK_MODEL_FORMAT = "corridor-splink-model/1"
_DIALECTS = ("duckdb", "spark")


def _overlap(a: str, b: str, dialect: str) -> str:
    return f"list_has_any({a}, {b})" if dialect == "duckdb" else f"arrays_overlap({a}, {b})"


def _overlap_at_least(a: str, b: str, n: int, dialect: str) -> str:
    if dialect == "duckdb":
        return f"len(list_intersect({a}, {b})) >= {n}"
    return f"size(array_intersect({a}, {b})) >= {n}"


def _empty(col: str, dialect: str) -> str:
    return f"len({col}) = 0" if dialect == "duckdb" else f"size({col}) = 0"


def _either_empty(col: str, dialect: str) -> str:
    return f"({_empty(col + '_l', dialect)} OR {_empty(col + '_r', dialect)})"


def _same(a: str, b: str, dialect: str) -> str:
    """Names of ``a`` (one record's places) and ``b`` (the other's) meet: what one is
    equals what the other is, or what a Latin spelling may be in Arabic script."""
    def o(x: str, y: str) -> str:
        return _overlap(x, y, dialect)

    return (
        f"({o(a + '_ids_l', b + '_ids_r')} OR {o(a + '_ids_l', b + '_xs_r')}"
        f" OR {o(a + '_xs_l', b + '_ids_r')})"
    )


def _similar(place: str, dialect: str) -> str:
    """Coarse skeletons agree, skeletons do not (equal skeletons whose vowels disagree
    are different names: محمود/Mohammed) and the Latin keys look alike (Jaro-Winkler at
    least 0.85, as the engine's "similar"): Barech/Barich, not Mahmud/Mohammed."""
    jw = "jaro_winkler_similarity" if dialect == "duckdb" else "jaro_winkler"
    return (
        f"({_overlap(place + '_cs_l', place + '_cs_r', dialect)}"
        f" AND {place}_sk_l <> {place}_sk_r"
        f" AND {jw}({place}_lat_l, {place}_lat_r) >= 0.85)"
    )


def _given_differs(dialect: str) -> str:
    """Both records give a given name and it agrees nowhere (same or similar name)."""
    return (
        f"(NOT {_either_empty('given_ids', dialect)}"
        f" AND NOT {_same('given', 'given', dialect)}"
        f" AND NOT coalesce({_similar('given', dialect)}, false))"
    )


def _cover(dialect: str, *, at_least: int = 2) -> str:
    """Whole names agree unit by unit, whatever the places and spellings: at least
    ``at_least`` distinct name units (coarse skeletons, ``all_cs``) are shared."""
    a, b = "all_cs_l", "all_cs_r"
    inter = (f"len(list_intersect({a}, {b}))" if dialect == "duckdb"
             else f"size(array_intersect({a}, {b}))")
    return f"({inter} >= {at_least})"


def _partial(place: str, dialect: str) -> str:
    """Both records give two or more names in ``place`` (coarse skeletons) and the names
    of the one with fewer are not all found in the other: "Yong Ho" and "Chol Ho" share
    a name, not the family name (siblings' names often share a syllable)."""
    a, b = f"{place}_cs_l", f"{place}_cs_r"
    size = "len" if dialect == "duckdb" else "size"
    inter = (f"len(list_intersect({a}, {b}))" if dialect == "duckdb"
             else f"size(array_intersect({a}, {b}))")
    return (f"({size}({a}) >= 2 AND {size}({b}) >= 2"
            f" AND {inter} < least({size}({a}), {size}({b})))")


def _in_order(dialect: str, *, ordered: bool = True) -> str:
    """Some spelling of each record (``seq_cs``: a chain's coarse skeletons in the order of
    its names, a name of one letter as a null, which is found nowhere) shares at least two
    names with the other, every name of the one with fewer names is found in the other,
    and, with ``ordered``, the names they share stand in the same order in both: the
    evidence the engine's alignment of two chains by position sees (a name missing in
    the middle shifts the rest; Zafir Al Jahani in Abdelrahman Mouhamad Zafir Al Jahani),
    which Al Jahani Zafir does not give. A name of one letter (a Korean syllable, an
    initial) is a name of the chain that never agrees: Kim Yong Su is not inside Kim
    Chol Yong."""
    a, b = "sa", "sb"
    # Two names shared at all (cheap, on ``all_cs``) before the spellings are walked:
    # two distinct names shared in a spelling are two shared in ``all_cs``.
    two = _cover(dialect, at_least=2)
    if dialect == "duckdb":
        def shared(x: str, y: str) -> str:
            return f"list_filter({x}, lambda v: list_contains({y}, v))"

        cond = (f"len({shared(a, b)}) >= 2 AND len({shared(a, b)}) = least(len({a}), len({b}))"
                + (f" AND {shared(a, b)} = {shared(b, a)}" if ordered else ""))
        return (f"({two} AND list_bool_or(list_transform(seq_cs_l, lambda {a}: list_bool_or("
                f"list_transform(seq_cs_r, lambda {b}: {cond})))))")

    def shared_s(x: str, y: str) -> str:
        return f"filter({x}, v -> array_contains({y}, v))"

    cond = (f"size({shared_s(a, b)}) >= 2 AND size({shared_s(a, b)}) = least(size({a}), size({b}))"
            + (f" AND {shared_s(a, b)} = {shared_s(b, a)}" if ordered else ""))
    return f"({two} AND exists(seq_cs_l, {a} -> exists(seq_cs_r, {b} -> {cond})))"


# Level conditions by name; {d} is filled per dialect by ``_condition``.
def _condition(name: str, dialect: str) -> str:
    def o(a: str, b: str) -> str:
        return _overlap(a, b, dialect)

    conditions = {
        "given_null": _either_empty("given_ids", dialect),
        "given_same": _same("given", "given", dialect),
        "given_similar": _similar("given", dialect),
        "given_elsewhere": f"({_same('given', 'all', dialect)}"
        f" OR {_same('all', 'given', dialect)})",
        "chain_null": _either_empty("chain_ids", dialect),
        "chain_family_resemblance": f"({_given_differs(dialect)}"
        f" AND {_same('chain', 'chain', dialect)})",
        # Both names of the chain: the father agrees and two tokens of the chain do.
        "chain_both": f"({_same('father', 'father', dialect)} AND "
        f"({_overlap_at_least('chain_ids_l', 'chain_ids_r', 2, dialect)}"
        f" OR {_overlap_at_least('chain_ids_l', 'chain_xs_r', 2, dialect)}"
        f" OR {_overlap_at_least('chain_xs_l', 'chain_ids_r', 2, dialect)}))",
        "chain_father": _same("father", "father", dialect),
        "chain_one": _same("chain", "chain", dialect),
        "chain_similar": o("chain_cs_l", "chain_cs_r"),
        "family_null": _either_empty("family_ids", dialect),
        "family_family_resemblance": f"({_given_differs(dialect)}"
        f" AND {_same('family', 'family', dialect)})",
        "family_partial": f"({_partial('family', dialect)}"
        f" AND {_same('family', 'family', dialect)})",
        "family_same": _same("family", "family", dialect),
        "family_elsewhere": f"({_same('family', 'all', dialect)}"
        f" OR {_same('all', 'family', dialect)})",
        "family_similar": _similar("family", dialect),
        "birth_null": "birth_year_l IS NULL OR birth_year_r IS NULL",
        "birth_same": "birth_year_l = birth_year_r",
        "birth_close": "abs(birth_year_l - birth_year_r) <= {close}",
        "birth_near": "abs(birth_year_l - birth_year_r) <= {near}",
        "sex_null": "sex_l IS NULL OR sex_r IS NULL",
        "sex_same": "sex_l = sex_r",
        "nationality_null": "nationality_l IS NULL OR nationality_r IS NULL",
        "nationality_same": "nationality_l = nationality_r",
        "cover_null": _either_empty("all_cs", dialect),
        # Given and family names agree in place and both records have a father's name:
        # the levels by place have counted the whole name (namesakes of the same chain
        # stay weighed by birth year and rarity alone).
        "cover_placed": f"({_same('given', 'given', dialect)}"
        f" AND {_same('family', 'family', dialect)} AND NOT {_either_empty('chain_ids', dialect)})",
        "cover_ordered": _in_order(dialect),
        "cover_subset": _in_order(dialect, ordered=False),
        "cover_three": _cover(dialect, at_least=3),
        "identifiers_null": _either_empty("identifiers", dialect),
        "identifiers_same": o("identifiers_l", "identifiers_r"),
        "else": "ELSE",
    }
    return conditions[name]


@dataclass(frozen=True)
class SplinkModel:
    """The JSON model file as a value (see module docstring)."""

    data: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.data["version"])

    @property
    def slope(self) -> float:
        return float(self.data["calibration_slope"])

    @property
    def pair_cap(self) -> int:
        return int(self.data["blocking"]["pair_cap"])

    @property
    def name_cap(self) -> int:
        return int(self.data["blocking"]["name_cap"])

    @property
    def few_names(self) -> dict[str, int] | None:
        """``{"units": u, "cap": c}``: a record of at most ``u`` names is compared with
        every record sharing one of its names held by at most ``c`` records (version 4);
        None where the file has no such rule."""
        few = self.data["blocking"].get("few_names")
        return None if few is None else {"units": int(few["units"]), "cap": int(few["cap"])}

    def threshold_weight(self, probability: float) -> float:
        """Splink match weight at which Corridor's calibration gives ``probability``."""
        p = min(max(probability, 1e-9), 1 - 1e-9)
        return math.log(p / (1 - p)) / self.slope

    def to_json(self) -> str:
        return json.dumps(self.data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SplinkModel:
        data = json.loads(text)
        if data.get("format") != SPLINK_MODEL_FORMAT:
            raise ValueError(f"not a {SPLINK_MODEL_FORMAT} file (format={data.get('format')!r})")
        return cls(data)

    @classmethod
    def default(cls) -> SplinkModel:
        """The model shipped in ``corridor/linkage/data/splink-model.json``."""
        path = resources.files("corridor.linkage").joinpath("data/splink-model.json")
        return cls.from_json(path.read_text(encoding="utf-8"))


def _level(name: str, label: str, bits: float | None = None, *, m: float | None = None,
           tf: str | None = None, tf_weight: float = 1.0) -> dict[str, Any]:
    out: dict[str, Any] = {"level": name, "label": label}
    if bits is not None:
        out["bits"] = round(bits, 4)
    if m is not None:
        out["m"] = m
    if tf is not None:
        out["tf"] = tf
        out["tf_weight"] = tf_weight
    return out


def build_model(model: Model | None = None) -> SplinkModel:
    """The Splink model set from Corridor's ``model`` (default: the shipped one)."""
    mo = model or Model.default()
    n, f = mo.names, mo.fields
    # A name agreeing in another position: Corridor multiplies its weight by
    # out_of_place_factor (given) or chain_family_factor (chain/family); for a typical
    # name of 1 % that is about:
    typical = math.log2(n.m_same / 0.01)
    similar = math.log2(n.m_similar / min(1.0, 0.01 * n.u_factor_similar + 0.002))
    comparisons = {
        "given": [
            _level("given_null", "no given name", None),
            _level("given_same", "same given name", m=n.m_same, tf="given_sk"),
            _level("given_similar", "similar given name", similar),
            _level("given_elsewhere", "given name found in another place",
                   n.given_elsewhere + n.out_of_place_factor * typical),
            _level("else", "different given name", n.given_different),
        ],
        # Father and grandfather are one piece of evidence.
        "chain": [
            _level("chain_null", "no father's or grandfather's name", None),
            _level("chain_family_resemblance",
                   "father's names agree, given name does not (brothers, cousins)", 0.0),
            _level("chain_both", "same father and grandfather", m=n.m_same, tf="father_sk"),
            _level("chain_father", "same father", m=n.m_spelling, tf="father_sk"),
            _level("chain_one", "a name of the chain agrees",
                   n.chain_family_factor * typical * 0.5),
            _level("chain_similar", "similar chain names", similar * n.chain_extra_factor),
            _level("else", "different father and grandfather", n.chain_different),
        ],
        "family": [
            _level("family_null", "no family name", None),
            _level("family_family_resemblance",
                   "family names agree, given name does not (brothers, cousins)", 0.0),
            # (Version 4.) Family names of several names each, only some of them shared:
            # a name agreeing, not the family name.
            _level("family_partial", "some of the names of the family name agree",
                   n.chain_family_factor * typical * 0.5),
            _level("family_same", "same family name", m=n.m_same, tf="family_sk"),
            _level("family_elsewhere", "family name found in another place",
                   n.chain_family_factor * typical * 0.5),
            _level("family_similar", "similar family name", similar),
            _level("else", "different family name", n.family_different),
        ],
        "birth_year": [
            _level("birth_null", "birth year unknown", None),
            _level("birth_same", "same birth year", f.birth_same),
            _level("birth_close", "birth years close", f.birth_close),
            _level("birth_near", "birth years a few years apart", f.birth_near),
            _level("else", "birth years far apart", f.birth_far),
        ],
        "sex": [
            _level("sex_null", "sex unknown", None),
            _level("sex_same", "same sex", f.sex_same),
            _level("else", "different sex", f.sex_different),
        ],
        "nationality": [
            _level("nationality_null", "nationality unknown", None),
            # Rarity counts half: a rare name is often rare *because* of its bearers'
            # nationality (Corridor's nationality_weight).
            _level("nationality_same", "same nationality", m=f.nationality_m,
                   tf="nationality", tf_weight=0.5),
            _level("else", "different nationality", f.nationality_different),
        ],
        # Whole names, whatever the places (the engine aligns chains by position; the
        # levels above are per place and independent, so an alias with fewer names
        # loses at every place it lacks): every unit of the name with fewer units is
        # found in the other (version 4: in one spelling of each, a name of one letter
        # counted as a name that agrees nowhere), or three units agree. Worth one name
        # agreeing in another place (chain_family_factor) per unit beyond the first.
        "cover": [
            _level("cover_null", "no name of two letters or more", None),
            _level("cover_placed", "names agree place by place (counted above)", 0.0),
            # (Version 4.) The names shared stand in the same order too: one more name
            # agreeing, as the engine's alignment by position counts it.
            _level("cover_ordered",
                   "every name of the shorter name found in the other, in the same order",
                   3 * n.chain_family_factor * typical * 0.5),
            _level("cover_subset", "every name of the shorter name found in the other",
                   2 * n.chain_family_factor * typical * 0.5),
            _level("cover_three", "three names agree, wherever they stand",
                   n.chain_family_factor * typical * 0.5),
            _level("else", "fewer names agree", 0.0),
        ],
        "identifiers": [
            _level("identifiers_null", "no document number or phone on one side", None),
            _level("identifiers_same", "same document number or phone", f.document_same),
            _level("else", "different document numbers and phones", 0.0),
        ],
    }
    return SplinkModel({
        "format": SPLINK_MODEL_FORMAT,
        "version": f"4+{mo.version}",
        "built_from": f"corridor.matching model {mo.version}",
        "calibration_slope": mo.calibration.slope,
        "birth_close_years": f.birth_close_years,
        "birth_near_years": f.birth_near_years,
        # A name agreeing is worth at most unit_weight_cap bits (Corridor's cap).
        "tf_minimum_u": round(n.m_same / 2**n.unit_weight_cap, 8),
        "nationality_u": 0.3,
        # Term frequencies as Corridor's shares: a name's count among persons (any
        # place in the name) smoothed towards the shipped frequency table with
        # ``frequency_prior_persons`` pseudo-persons; nationality likewise.
        "frequency_prior_persons": n.frequency_prior_persons,
        "unseen_name_per_million": n.unseen_name_per_million,
        "nationality_prior_persons": f.nationality_prior_persons,
        "nationality_prior_share": f.nationality_prior_share,
        # Pairs compared: those sharing one of the engine's blocking keys (the search's
        # own), a pair of names (``p:``) held by at most ``pair_cap`` records or one name
        # (``n:``) held by at most ``name_cap``: Corridor's frequency cap, so that a
        # block of common names never makes millions of comparisons.
        # And pairs agreeing on the coarse skeletons of the given, father's, grandfather's
        # (or both without one: "?") and family names, or of the given, father's and
        # family names and the birth year.
        # (Version 2: version 1 blocked on given+father+family and given+family+birth
        # year, with pair_cap 20. Those blocks grow with the square of the registry: at
        # 100,000 demo records they made 830,000 pairs for 1 % more recall at 0.9;
        # benchmarks/bench_dedupe.py, docs/performance.md.)
        "blocking": {
            "pair_cap": 10,
            "name_cap": 5,
            "rules": [
                ["given_c", "father_c", "grand_c?", "family_c"],
                ["given_c", "father_c", "family_c", "birth_year"],
            ],
        },
        "comparisons": comparisons,
    })


def _m_u(level: dict[str, Any], nationality_u: float) -> tuple[float, float]:
    if "tf" in level:
        m = float(level["m"])
        u = nationality_u if level["tf"] == "nationality" else m / 2**8
        return m, u
    bits = float(level["bits"])
    if bits >= 0:
        m = 0.9
        return m, m / 2**bits
    u = 0.9
    return u * 2**bits, u


def block_keys_sql(model: SplinkModel, dialect: str, source: str) -> str:
    """SELECT of ``source``'s rows with ``block_keys``: the blocking keys each record keeps
    once keys held by too many records (or by one) are dropped."""
    caps = (
        f"(k.key LIKE 'p:%' AND c.n <= {model.pair_cap}) "
        f"OR (k.key LIKE 'n:%' AND c.n <= {model.name_cap})"
    )
    few = model.few_names
    if dialect == "duckdb":
        explode = (
            f"SELECT unique_id, unnest(list_concat(pair_keys, name_keys)) AS key FROM {source}"
        )
        gather, empty = "list(k.key)", "[]::VARCHAR[]"
    else:
        explode = f"SELECT unique_id, explode(concat(pair_keys, name_keys)) AS key FROM {source}"
        gather, empty = "collect_list(k.key)", "cast(array() as array<string>)"
    # A record's only one or two names (``few_names``): its ``n:`` keys held by at most
    # ``few_names.cap`` records, in a column of their own (``few_keys``) that every
    # record holding such a key carries; the blocking rule pairs them only where one
    # side has at most ``few_names.units`` names.
    few_keys = ""
    if few is not None:
        few_keys = (
            f", few AS (SELECT k.unique_id, {gather} AS keys FROM k JOIN c ON k.key = c.key "
            f"WHERE c.n > 1 AND k.key LIKE 'n:%' AND c.n <= {int(few['cap'])} "
            "GROUP BY k.unique_id)"
        )
    return (
        f"WITH k AS ({explode}), "
        "c AS (SELECT key, count(*) AS n FROM k GROUP BY key), "
        f"kept AS (SELECT k.unique_id, {gather} AS keys FROM k JOIN c ON k.key = c.key "
        f"WHERE c.n > 1 AND ({caps}) GROUP BY k.unique_id){few_keys} "
        f"SELECT s.*, coalesce(kept.keys, {empty}) AS block_keys"
        + (f", coalesce(few.keys, {empty}) AS few_keys" if few is not None else "")
        + f" FROM {source} s LEFT JOIN kept ON s.unique_id = kept.unique_id"
        + (" LEFT JOIN few ON s.unique_id = few.unique_id" if few is not None else "")
    )


NAME_TF_COLUMNS = ("given_sk", "father_sk", "family_sk")


def tf_tables_sql(
    model: SplinkModel, dialect: str, source: str, frequencies: str, population: int
) -> dict[str, str]:
    """SELECTs of the term-frequency tables (column -> SQL), Corridor's shares:
    ``frequencies`` is a table ``(sk, per_million)`` of the shipped name frequencies."""
    d = model.data
    k, unseen = float(d["frequency_prior_persons"]), float(d["unseen_name_per_million"])
    kn, pn = float(d["nationality_prior_persons"]), float(d["nationality_prior_share"])
    if dialect == "duckdb":
        tokens = (
            f"SELECT DISTINCT unique_id, unnest(list_concat(given_ks, chain_ks, family_ks)) "
            f"AS t FROM {source}"
        )
    else:
        tokens = (
            f"SELECT DISTINCT unique_id, explode(concat(given_ks, chain_ks, family_ks)) "
            f"AS t FROM {source}"
        )
    counts = f"SELECT substr(t, 3) AS sk, count(*) AS n FROM ({tokens}) tok GROUP BY substr(t, 3)"
    out = {}
    for col in NAME_TF_COLUMNS:
        out[col] = (
            f"SELECT c.sk AS {col}, cast((c.n + {k} * coalesce(f.per_million, {unseen}) / 1e6)"
            f" / ({population} + {k}) AS double) AS tf_{col} FROM ({counts}) c "
            f"LEFT JOIN {frequencies} f ON f.sk = c.sk"
        )
    out["nationality"] = (
        f"SELECT nationality, cast((count(*) + {kn * pn}) / ({population} + {kn}) AS double) "
        f"AS tf_nationality FROM {source} WHERE nationality IS NOT NULL GROUP BY nationality"
    )
    return out


def _block_on(column: str) -> str:
    """``l.c = r.c``; ``c?`` also pairs two records that both lack it (a chain of three
    names has no grandfather: two such records still meet on the other three)."""
    if column.endswith("?"):
        c = column[:-1]
        return f"coalesce(l.{c}, '') = coalesce(r.{c}, '')"
    return f"l.{column} = r.{column}"


def _few_names_rule(model: SplinkModel, dialect: str) -> list[dict[str, Any]]:
    """The blocking rule of a record's only one or two names (``few_names``)."""
    few = model.few_names
    if few is None or not model.data["blocking"].get("keys", True):
        return []
    size = "len" if dialect == "duckdb" else "size"
    units = int(few["units"])
    return [{
        "blocking_rule": f"l.few_keys = r.few_keys AND ({size}(l.all_cs) <= {units}"
        f" OR {size}(r.all_cs) <= {units})",
        "arrays_to_explode": ["few_keys"],
    }]


def splink_settings(model: SplinkModel, dialect: str, population: int) -> dict[str, Any]:
    """A Splink settings dictionary for ``dialect`` (``duckdb`` or ``spark``)."""
    if dialect not in _DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r} (one of {', '.join(_DIALECTS)})")
    data = model.data
    fill = {"close": data["birth_close_years"], "near": data["birth_near_years"]}
    comparisons = []
    for column, levels in data["comparisons"].items():
        out_levels = []
        for level in levels:
            cond = _condition(level["level"], dialect).format(**fill)
            entry: dict[str, Any] = {"sql_condition": cond, "label_for_charts": level["label"]}
            if level["level"].endswith("_null"):
                entry["is_null_level"] = True
            else:
                m, u = _m_u(level, float(data["nationality_u"]))
                entry["m_probability"] = m
                entry["u_probability"] = u
                if "tf" in level:
                    entry["tf_adjustment_column"] = level["tf"]
                    entry["tf_adjustment_weight"] = level["tf_weight"]
                    entry["tf_minimum_u_value"] = data["tf_minimum_u"]
                    # The level's own u is the base the adjustment replaces (m / share).
                    entry["disable_tf_exact_match_detection"] = True
            out_levels.append(entry)
        comparisons.append({
            "output_column_name": column,
            "comparison_description": column,
            "comparison_levels": out_levels,
        })
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "probability_two_random_records_match": 1.0 / max(population, 2),
        "blocking_rules_to_generate_predictions": [
            " AND ".join(_block_on(c) for c in rule) for rule in data["blocking"]["rules"]
        ] + ([
            {"blocking_rule": "l.block_keys = r.block_keys", "arrays_to_explode": ["block_keys"]}
        ] if data["blocking"].get("keys", True) else [])  # "keys": false: rules only
        + _few_names_rule(model, dialect),
        "comparisons": comparisons,
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": False,
        "additional_columns_to_retain": [],
    }


def main() -> int:
    # Rebuilding sets every weight from the Corridor model shipped now: evaluate the
    # result (benchmarks/bench_dedupe.py, corridor bench dedupe) before committing it.
    target = Path(__file__).with_name("data") / "splink-model.json"
    target.parent.mkdir(exist_ok=True)
    target.write_text(build_model().to_json(), encoding="utf-8")
    print(f"written {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Corridor's key columns (``features.COLUMNS``) computed in DuckDB, per distinct value.

``features.feature_row`` builds one person's columns in Python: the parse of every
spelling (``PersonRecord.name_chains``) and a few set unions per record, about 0.3 ms a
record on one free core. A registry's names repeat a great deal (a million records hold a
few thousand distinct name words), so here Python only sees each distinct value once and
DuckDB does the rest with joins and list functions:

1. ``raw_table``: one row per record with its name fields as they are (no parse) and the
   scalar columns (``features.scalar_columns``: the same code as ``feature_row``).
2. Each distinct name part (given, father's, grandfather's, family name) is parsed once
   (``parse_name``) into name-unit ids; so is each distinct full name and name in the
   original script, except that one in Arabic script whose every word is *plain* (a word
   the parser reads the same wherever it stands: not a title, connector, ``عبد``/``ابو``,
   a suffix such as ``الله``, nor a separate article) is the concatenation of its words'
   units, each word parsed once.
3. The chains of ``PersonRecord.name_chains`` (the name parts, the full name, the name in
   the original script; a later spelling with the same units skipped; the roles the name
   parts give carried over to a spelling with as many names) are assembled in SQL from
   those unit lists. Records whose chains SQL does not rebuild (a name part that is the
   first half of a compound split over two fields, or other names) take the engine's own
   ``name_chains`` in Python (the fallback).
4. Each distinct name unit's tokens are computed once (``features._unit``); the columns
   are unions of list columns over a record's units (``flatten``/``list_distinct``), and
   the pair keys unions over the distinct pairs of units that stand in one chain.

``tests/linkage/test_columns.py`` checks the result equals ``feature_row_reference`` (the
engine's own per-record computation) row for row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from corridor.linkage.features import COLUMNS, _unit, scalar_columns
from corridor.matching import normalise as _norm
from corridor.matching.central_asian import is_central_asian
from corridor.matching.normalise import NameUnit, is_arabic, normalise_arabic, parse_name
from corridor.matching.records import CHAIN, FAMILY, GIVEN, GIVEN2, PersonRecord
from corridor.matching.vocalised import is_vocalised

__all__ = [
    "RAW_SCHEMA", "UnitRegistry", "build_feature_table", "raw_from_person_csv", "raw_table",
]

_NAME_FIELDS = ("given", "father", "grand", "family", "fullname", "orig")
RAW_SCHEMA = pa.schema([
    ("unique_id", pa.string()),
    *((f, pa.string()) for f in _NAME_FIELDS),
    ("alts", pa.list_(pa.string())),
    ("birth_year", pa.int32()),
    ("sex", pa.string()),
    ("nationality", pa.string()),
    ("identifiers", pa.list_(pa.string())),
])


def raw_table(records: Iterable[PersonRecord]) -> pa.Table:
    """The records' name fields as they are and their scalar columns (``RAW_SCHEMA``)."""
    cols: dict[str, list[Any]] = {name: [] for name in RAW_SCHEMA.names}
    for r in records:
        cols["unique_id"].append(r.record_id)
        cols["given"].append(r.given_name)
        cols["father"].append(r.father_name)
        cols["grand"].append(r.grandfather_name)
        cols["family"].append(r.family_name)
        cols["fullname"].append(r.full_name)
        cols["orig"].append(r.name_original_script)
        cols["alts"].append(list(r.alternate_names))
        sex, nationality, identifiers = scalar_columns(r)
        cols["birth_year"].append(r.birth_year)
        cols["sex"].append(sex)
        cols["nationality"].append(nationality)
        cols["identifiers"].append(identifiers)
    return pa.Table.from_pydict(cols, schema=RAW_SCHEMA)


# The characters Python's ``str.strip`` removes (``str.isspace``), for DuckDB's regexes.
_PY_SPACE = (r"[\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}"
             r"\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]")
_PERSON_NAMES = {"given": "given_name", "father": "father_name", "grand": "grandfather_name",
                 "family": "family_name", "fullname": "full_name",
                 "orig": "name_original_script"}


def _opt_sql(col: str) -> str:
    """``matching.bench._opt`` in SQL: the value stripped as Python strips, None if empty."""
    return f"nullif(regexp_replace({col}, '^{_PY_SPACE}+|{_PY_SPACE}+$', '', 'g'), '')"


def raw_from_person_csv(con: Any, path: Any, out: str) -> None:
    """Create table ``out`` (``RAW_SCHEMA``) from a person CSV, with DuckDB reading the file:
    the values ``raw_table(read_person_csv(path))`` gives (names stripped, the birth year,
    sex and nationality read by ``read_person_csv``'s own functions once per distinct
    value). The file is read as RFC 4180 CSV (comma, double quotes), as Python's ``csv``
    reads it."""
    from corridor.matching.bench import _opt, _year

    src = (f"read_csv('{path}', header = true, all_varchar = true, delim = ',', "
           f"quote = '\"', escape = '\"')")
    present = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}

    def col(name: str) -> str:
        return f's."{name}"' if name in present else "NULL::VARCHAR"

    con.execute(f"CREATE TEMP TABLE corridor_csv AS SELECT * FROM {src}")
    maps: dict[str, Any] = {
        "birth_year": (pa.int32(), lambda v: _year(_opt({"x": v}, "x"))),
        "sex": (pa.string(), lambda v: scalar_columns(PersonRecord(
            "", sex=((_opt({"x": v}, "x") or "").lower()[:1] or None)))[0]),
        "nationality": (pa.string(), lambda v: scalar_columns(PersonRecord(
            "", nationality=_opt({"x": v}, "x")))[1]),
    }
    for name, (typ, fn) in maps.items():
        values = [r[0] for r in con.execute(
            f"SELECT DISTINCT {col(name)} FROM corridor_csv s WHERE {col(name)} IS NOT NULL"
        ).fetchall()]
        con.register(f"corridor_map_{name}", pa.table({
            "v": pa.array(values, pa.string()),
            "m": pa.array([fn(v) for v in values], typ),
        }))
    names = ", ".join(f"{_opt_sql(col(c))} AS {f}" for f, c in _PERSON_NAMES.items())
    con.execute(f"""CREATE TABLE {out} AS
        SELECT s.record_id AS unique_id, {names}, []::VARCHAR[] AS alts,
          mb.m AS birth_year, ms.m AS sex, mn.m AS nationality,
          []::VARCHAR[] AS identifiers
        FROM corridor_csv s
        LEFT JOIN corridor_map_birth_year mb ON mb.v = {col("birth_year")}
        LEFT JOIN corridor_map_sex ms ON ms.v = {col("sex")}
        LEFT JOIN corridor_map_nationality mn ON mn.v = {col("nationality")}""")
    for name in maps:
        con.unregister(f"corridor_map_{name}")
    con.execute("DROP TABLE corridor_csv")


# Words ``normalise._arabic_units`` reads by their neighbours; every other word of an
# Arabic-script name becomes its own units (``_split_arabic_word``), whatever stands
# around it. Kept next to the parser's own sets: a word added to them is special here too.
_AR_SPECIAL = (
    _norm._ARABIC_TITLES | _norm._ARABIC_CONNECTORS | _norm._ARABIC_SUFFIXES
    | frozenset(["عبد", "ابو", "ابي", "ابى", "ابا", "ال", "الله"])
)
_AR_SPLIT = re.compile(r"[\s\-_.]+")
_NOT_PLAIN = re.compile(r"[()\[\],،]")


def _plain_word(token: str) -> bool:
    """True when ``token`` (no space in it) is parsed the same alone as within any
    Arabic-script name: Arabic script, no brackets or commas (which the parser reads over
    the whole name), and none of its words special (``_AR_SPECIAL``)."""
    if not token:
        return True
    if not is_arabic(token) or _NOT_PLAIN.search(token) or is_vocalised(token):
        return False  # a vocalised word: the whole name is romanised (``parse_name``)
    return not any(
        w in _AR_SPECIAL for w in _AR_SPLIT.split(normalise_arabic(token)) if w
    )


_AR_HEADS = frozenset(["عبد", "ابو", "ابي", "ابى", "ابا"])


class _Word:
    """What ``_segmented`` needs of one space-separated word of a name."""

    __slots__ = ("plain", "head", "single")

    def __init__(self, token: str) -> None:
        self.plain = _plain_word(token)
        words = [] if _NOT_PLAIN.search(token) else [
            w for w in _AR_SPLIT.split(normalise_arabic(token)) if w]
        self.single = len(words) == 1
        self.head = is_arabic(token) and self.single and words[0] in _AR_HEADS


def _segmented(text: str, reg: UnitRegistry, cache: dict[str, _Word]) -> list[int] | None:
    """The units of an Arabic-script ``text`` read as plain words and pairs ``عبد X`` /
    ``ابو X`` (the parser joins a head to whatever word follows it, and a plain word reads
    the same by any neighbour); None where another word stands (a title, connector,
    suffix, a head without a next word), which the caller parses whole."""
    if is_vocalised(text):
        return None  # romanised whole by ``parse_name``: no word reads as it does alone
    tokens = text.split(" ")
    out: list[int] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        info = cache.get(t)
        if info is None:
            info = cache[t] = _Word(t)
        if info.plain:
            out.extend(reg.parse(t))
            i += 1
            continue
        if not info.head or i + 1 >= len(tokens):
            return None
        nxt = tokens[i + 1]
        n_info = cache.get(nxt)
        if n_info is None:
            n_info = cache[nxt] = _Word(nxt)
        if not n_info.single:
            return None
        out.extend(reg.parse(f"{t} {nxt}"))
        i += 2
    return out


class UnitRegistry:
    """Integer ids of distinct name units, and each id's columns (``unit_rows``)."""

    def __init__(self) -> None:
        self.ids: dict[NameUnit, int] = {}
        self.units: list[NameUnit] = []

    def id(self, unit: NameUnit) -> int:
        uid = self.ids.get(unit)
        if uid is None:
            uid = self.ids[unit] = len(self.units)
            self.units.append(unit)
        return uid

    def parse(self, text: str | None) -> list[int]:
        return [self.id(u) for u in parse_name(text)]

    def unit_rows(self, tokens: dict[str, int] | None = None) -> pa.Table:
        """One row per unit id. With ``tokens`` the comparison tokens (``ids``, ``xs``
        and the coarse skeleton ``cx``) are integers, numbered in ``tokens`` (one
        number per distinct token: overlaps and counts are those of the strings)."""
        cols: dict[str, list[Any]] = {k: [] for k in (
            "uid", "script", "ids", "xs", "c", "cx", "ks", "sk", "lat", "nk", "pcs")}

        def enc(values: Iterable[str]) -> list[Any]:
            if tokens is None:
                return list(values)
            return [tokens.setdefault(v, len(tokens)) for v in values]

        for uid, unit in enumerate(self.units):
            u = _unit(unit)
            cols["uid"].append(uid)
            cols["script"].append(1 if unit.script == "ar" else 2)
            cols["ids"].append(enc(u.ids))
            cols["xs"].append(enc(u.xs))
            cols["c"].append(u.coarse)
            cols["cx"].append(enc([u.coarse])[0])
            cols["ks"].append(list(u.ks))
            cols["sk"].append(u.sk)
            cols["lat"].append(u.lat)
            cols["nk"].append(list(u.name_keys))
            cols["pcs"].append(list(u.pair_cs))
        lst = pa.list_(pa.string())
        tok = pa.string() if tokens is None else pa.int32()
        return pa.Table.from_pydict(cols, schema=pa.schema([
            ("uid", pa.int32()), ("script", pa.int8()), ("ids", pa.list_(tok)),
            ("xs", pa.list_(tok)), ("c", pa.string()), ("cx", tok), ("ks", lst),
            ("sk", pa.string()), ("lat", pa.string()), ("nk", lst), ("pcs", lst),
        ]))


_PLACE = {GIVEN: "g", GIVEN2: "g", FAMILY: "y"}


def _fallback_rows(rec: PersonRecord, reg: UnitRegistry, out: dict[str, list[Any]]) -> None:
    """The record's unit rows from the engine's own chains (as ``feature_row`` reads them)."""
    for ci, chain in enumerate(rec.name_chains(), start=1):
        seen_chain = 0
        for i, (unit, role) in enumerate(zip(chain.units, chain.roles, strict=True)):
            if role == CHAIN:
                place = "f" if seen_chain == 0 else "r"
                seen_chain += 1
            else:
                place = _PLACE[role]
            out["unique_id"].append(rec.record_id)
            out["ci"].append(ci)
            out["i"].append(i)
            out["uid"].append(reg.id(unit))
            out["place"].append(place)


def _list_sql(expr: str) -> str:
    return f"coalesce({expr}, [])"


def build_feature_table(
    con: Any, raw: str, out: str, *, encode: bool = False
) -> list[str] | None:
    """Create table ``out`` (``features.COLUMNS``, in order) from table ``raw``
    (``RAW_SCHEMA``) on DuckDB connection ``con``.

    With ``encode`` the token lists Splink's comparisons overlap and count (``*_ids``,
    ``*_xs``, ``*_cs``) hold integers, one per distinct token, and the tokens are
    returned (token ``i`` is ``tokens[i]``): comparing integers is cheaper than strings
    and gives the same levels. The blocking keys and ``*_ks`` stay strings."""
    reg = UnitRegistry()
    # 1. Name parts: each distinct value parsed once; compound heads sent to the fallback.
    parts = con.execute(
        f"SELECT DISTINCT v FROM (SELECT unnest([given, father, grand, family]) AS v "
        f"FROM {raw}) WHERE v IS NOT NULL"
    ).fetchall()
    pv: dict[str, list[Any]] = {"v": [], "units": [], "scr": [], "head": []}
    for (v,) in parts:
        units = reg.parse(v)
        pv["v"].append(v)
        pv["units"].append(units)
        pv["scr"].append(_scripts(reg, units))
        # A compound head, or a part in a vocalised alphabet or written the Tajik or
        # Uzbek way (``vocalised_parts`` and ``central_asian_parts`` read the record's
        # other parts by it): the record's chains come from the fallback.
        pv["head"].append(bool(v) and (
            _norm._is_compound_head(v) or is_vocalised(v) or is_central_asian(v)))
    con.register("corridor_pv_arrow", pa.table(pv, schema=pa.schema([
        ("v", pa.string()), ("units", pa.list_(pa.int32())), ("scr", pa.int8()),
        ("head", pa.bool_())])))
    con.execute("CREATE TEMP TABLE corridor_pv AS SELECT * FROM corridor_pv_arrow")
    con.unregister("corridor_pv_arrow")
    # 2. Full names and names in the original script: by their words where every word is
    # plain, else the whole text parsed once.
    con.execute(
        f"CREATE TEMP TABLE corridor_tx AS SELECT DISTINCT v FROM "
        f"(SELECT unnest([fullname, orig]) AS v FROM {raw}) WHERE v IS NOT NULL"
    )
    con.execute(
        "CREATE TEMP TABLE corridor_tok AS SELECT v, unnest(string_split(v, ' ')) AS w, "
        "generate_subscripts(string_split(v, ' '), 1) AS pos FROM corridor_tx"
    )
    words = con.execute("SELECT DISTINCT w FROM corridor_tok").fetchall()
    wv: dict[str, list[Any]] = {"w": [], "units": [], "plain": []}
    for (w,) in words:
        plain = _plain_word(w)
        wv["w"].append(w)
        wv["plain"].append(plain)
        wv["units"].append(reg.parse(w) if plain else [])
    con.register("corridor_wv_arrow", pa.table(wv, schema=pa.schema([
        ("w", pa.string()), ("units", pa.list_(pa.int32())), ("plain", pa.bool_())])))
    con.execute(
        "CREATE TEMP TABLE corridor_tv AS SELECT t.v, "
        "flatten(list(w.units ORDER BY t.pos)) AS units, bool_and(w.plain) AS plain "
        "FROM corridor_tok t JOIN corridor_wv_arrow w ON t.w = w.w GROUP BY t.v"
    )
    con.unregister("corridor_wv_arrow")
    hard = con.execute("SELECT v FROM corridor_tv WHERE NOT plain").fetchall()
    hv: dict[str, list[Any]] = {"v": [], "units": []}
    words_of: dict[str, _Word] = {}
    for (v,) in hard:
        segmented = _segmented(v, reg, words_of)
        hv["v"].append(v)
        hv["units"].append(reg.parse(v) if segmented is None else segmented)
    con.register("corridor_hv_arrow", pa.table(hv, schema=pa.schema([
        ("v", pa.string()), ("units", pa.list_(pa.int32()))])))
    con.execute(
        "UPDATE corridor_tv SET units = h.units FROM corridor_hv_arrow h "
        "WHERE corridor_tv.v = h.v"
    )
    con.unregister("corridor_hv_arrow")
    # 3. Fallback records: a name part that is a compound head or vocalised, or other names.
    fb = con.execute(
        f"SELECT r.unique_id, r.given, r.father, r.grand, r.family, r.fullname, r.orig, r.alts "
        f"FROM {raw} r WHERE len(r.alts) > 0 OR EXISTS (SELECT 1 FROM corridor_pv p "
        f"WHERE p.head AND p.v IN (r.given, r.father, r.grand, r.family))"
    ).fetchall()
    fr: dict[str, list[Any]] = {"unique_id": [], "ci": [], "i": [], "uid": [], "place": []}
    fallback_ids = []
    for uid_, g, f, gf, fam, full, orig, alts in fb:
        fallback_ids.append(uid_)
        rec = PersonRecord(uid_, given_name=g, father_name=f, grandfather_name=gf,
                           family_name=fam, full_name=full, name_original_script=orig,
                           alternate_names=tuple(alts or ()))
        _fallback_rows(rec, reg, fr)
    con.register("corridor_fr_arrow", pa.table(fr, schema=pa.schema([
        ("unique_id", pa.string()), ("ci", pa.int32()), ("i", pa.int32()),
        ("uid", pa.int32()), ("place", pa.string())])))
    con.register("corridor_fb_arrow", pa.table({"unique_id": pa.array(fallback_ids,
                                                                      pa.string())}))
    tokens: dict[str, int] | None = {} if encode else None
    con.register("corridor_units_arrow", reg.unit_rows(tokens))
    con.execute("CREATE TEMP TABLE corridor_units AS SELECT * FROM corridor_units_arrow")
    con.unregister("corridor_units_arrow")
    for sql in _chain_sql(raw):
        con.execute(sql)
    con.execute(
        "INSERT INTO corridor_ru SELECT unique_id, ci, i, uid, place FROM corridor_fr_arrow"
    )
    con.unregister("corridor_fr_arrow")
    con.unregister("corridor_fb_arrow")
    for sql in _aggregate_sql(raw, out):
        con.execute(sql)
    for t in ("corridor_pv", "corridor_tx", "corridor_tok", "corridor_tv", "corridor_units",
              "corridor_ru", "corridor_rp", "corridor_pk", "corridor_rs", "corridor_sets",
              "corridor_seq",
              "corridor_p", "corridor_rf"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    return None if tokens is None else list(tokens)


def _scripts(reg: UnitRegistry, units: list[int]) -> int:
    mask = 0
    for u in units:
        mask |= 1 if reg.units[u].script == "ar" else 2
    return mask


def _clamp(n: str, g: str, f: str) -> str:
    """``records._roles(n, g, f)`` as (given count, family count) of the role formula."""
    gc = f"greatest(1, least({g}, {n} - 1))"
    return f"{{'gn': {gc}, 'fn': greatest(1, least({f}, {n} - {gc}))}}"


def _chain_sql(raw: str) -> list[str]:
    """Rebuild ``PersonRecord.name_chains`` per record (not the fallback ones) and write
    one row per unit of a chain: ``corridor_ru(unique_id, ci, i, uid, place)``."""
    empty = "[]::INTEGER[]"
    return [
        # The parts' units, their counts and scripts; the full name's and original's units.
        f"""CREATE TEMP TABLE corridor_rc AS
        SELECT r.unique_id,
          list_concat(coalesce(g.units, {empty}), coalesce(f.units, {empty}),
                      coalesce(gf.units, {empty}), coalesce(fa.units, {empty})) AS pu,
          len(coalesce(g.units, {empty})) AS lg,
          len(coalesce(fa.units, {empty})) AS lf,
          (coalesce(g.scr, 0) | coalesce(f.scr, 0) | coalesce(gf.scr, 0)
           | coalesce(fa.scr, 0)) IN (1, 2) AS single,
          coalesce(fu.units, {empty}) AS fu,
          coalesce(ou.units, {empty}) AS ou
        FROM {raw} r
        ANTI JOIN corridor_fb_arrow fb ON r.unique_id = fb.unique_id
        LEFT JOIN corridor_pv g ON g.v = r.given
        LEFT JOIN corridor_pv f ON f.v = r.father
        LEFT JOIN corridor_pv gf ON gf.v = r.grand
        LEFT JOIN corridor_pv fa ON fa.v = r.family
        LEFT JOIN corridor_tv fu ON fu.v = r.fullname
        LEFT JOIN corridor_tv ou ON ou.v = r.orig""",
        # Which chains exist (a later one with the same units is skipped) and their roles:
        # the roles the parts give (``known``) where a spelling has as many names.
        f"""CREATE TEMP TABLE corridor_ch AS
        WITH a AS (
          SELECT *, len(pu) > 0 AND single AS p_on,
            CASE WHEN len(pu) > 0 AND single AND lg > 0 THEN len(pu) END AS known_n
          FROM corridor_rc),
        b AS (
          SELECT *, len(fu) > 0 AND NOT (p_on AND fu = pu) AS f_on FROM a)
        SELECT unique_id, list_filter([
            CASE WHEN p_on THEN {{'u': pu, 'r': CASE WHEN lg > 0
                 THEN {{'gn': lg, 'fn': lf}} ELSE {_clamp('len(pu)', '1', '1')} END}} END,
            CASE WHEN f_on THEN {{'u': fu, 'r': CASE WHEN known_n = len(fu)
                 THEN {{'gn': lg, 'fn': lf}}
                 ELSE {_clamp('len(fu)', 'greatest(lg, 1)', 'greatest(lf, 1)')} END}} END,
            CASE WHEN len(ou) > 0 AND NOT (p_on AND ou = pu) AND NOT (f_on AND ou = fu)
                 THEN {{'u': ou, 'r': CASE WHEN known_n = len(ou)
                 THEN {{'gn': lg, 'fn': lf}} ELSE {_clamp('len(ou)', '1', '1')} END}} END
          ], lambda x: x IS NOT NULL) AS chains
        FROM b""",
        """CREATE TEMP TABLE corridor_ru AS
        WITH c AS (
          SELECT unique_id, unnest(chains) AS ch, generate_subscripts(chains, 1) AS ci
          FROM corridor_ch),
        u AS (
          SELECT unique_id, ci, ch['r']['gn'] AS gn, ch['r']['fn'] AS fn, len(ch['u']) AS n,
            unnest(ch['u']) AS uid, generate_subscripts(ch['u'], 1) - 1 AS i
          FROM c)
        SELECT unique_id, ci::INTEGER AS ci, i::INTEGER AS i, uid::INTEGER AS uid,
          CASE WHEN i = 0 OR i < gn THEN 'g' WHEN i >= n - fn THEN 'y'
               WHEN i = greatest(gn, 1) THEN 'f' ELSE 'r' END AS place
        FROM u""",
        "DROP TABLE corridor_rc",
        "DROP TABLE corridor_ch",
    ]


def _aggregate_sql(raw: str, out: str) -> list[str]:
    """The columns from ``corridor_ru``: each record's units per place as a set of ids;
    each distinct set's tokens once; a record's columns are its sets' tokens, the
    ``all_*`` ones the union of its places' (every unit stands in one place)."""
    def ids(places: str) -> str:
        return (f"list_sort(list_distinct(list(uid) FILTER (WHERE place IN ({places}))))")

    def first(places: str) -> str:
        return f"arg_min(uid, ci * 100000 + i) FILTER (WHERE place IN ({places}))"

    def union(*lists: str) -> str:
        parts = ", ".join(_list_sql(x) for x in lists)
        return f"list_sort(list_distinct(list_concat({parts})))"

    cols = []
    for name in COLUMNS:
        place, _, attr = name.partition("_")
        if name in ("unique_id", "birth_year", "sex", "nationality", "identifiers"):
            cols.append(f"r.{name}")
        elif attr in ("sk", "lat", "c"):
            unit = {"given": "g", "father": "f", "grand": "r", "family": "y"}[place]
            expr = f"a.{unit}_{attr}"
            cols.append(f"nullif({expr}, '') AS {name}" if attr == "c" else f"{expr} AS {name}")
        elif name == "seq_cs":
            cols.append("coalesce(q.seq_cs, []) AS seq_cs")
        elif name == "pair_keys":
            cols.append(f"{_list_sql('p.pair_keys')} AS pair_keys")
        elif name == "name_keys":
            cols.append(f"{union('g.nk', 'c.nk', 'y.nk')} AS name_keys")
        elif place == "all":
            # all_cs: the coarse skeletons of two letters or more.
            a = "cs2" if attr == "cs" else attr
            cols.append(f"{union(f'g.{a}', f'c.{a}', f'y.{a}')} AS {name}")
        else:
            alias = {"given": "g", "father": "f", "chain": "c", "family": "y"}[place]
            cols.append(f"{_list_sql(f'{alias}.{attr}')} AS {name}")
    return [
        f"""CREATE TEMP TABLE corridor_rs AS
        SELECT unique_id, {ids("'g'")} AS sg, {ids("'f'")} AS sf, {ids("'f', 'r'")} AS sc,
          {ids("'y'")} AS sy,
          arg_min(uid, ci) FILTER (WHERE i = 0) AS fg, {first("'f'")} AS ff,
          {first("'r'")} AS fr, {first("'y'")} AS fy
        FROM corridor_ru GROUP BY unique_id""",
        # Every distinct set of units, and its tokens.
        """CREATE TEMP TABLE corridor_sets AS
        WITH d AS (SELECT DISTINCT s FROM (SELECT unnest([sg, sf, sc, sy]) AS s
                                           FROM corridor_rs)),
        e AS (SELECT s, unnest(s) AS uid FROM d)
        SELECT e.s, list_sort(list_distinct(flatten(list(t.ids)))) AS ids,
          list_sort(list_distinct(flatten(list(t.xs)))) AS xs,
          list_sort(list_distinct(list(t.cx))) AS cs,
          list_sort(list_distinct(list(t.cx) FILTER (WHERE length(t.c) >= 2))) AS cs2,
          list_sort(list_distinct(flatten(list(t.ks)))) AS ks,
          list_sort(list_distinct(flatten(list(t.nk)))) AS nk
        FROM e JOIN corridor_units t ON t.uid = e.uid GROUP BY e.s""",
        """CREATE TEMP TABLE corridor_rp AS
        SELECT DISTINCT a.unique_id, least(a.uid, b.uid) AS ua, greatest(a.uid, b.uid) AS ub
        FROM corridor_ru a JOIN corridor_ru b
          ON a.unique_id = b.unique_id AND a.ci = b.ci AND a.i < b.i""",
        """CREATE TEMP TABLE corridor_pk AS
        WITH d AS (SELECT DISTINCT ua, ub FROM corridor_rp),
        x AS (SELECT d.ua, d.ub, unnest(ta.pcs) AS ka FROM d JOIN corridor_units ta
              ON ta.uid = d.ua),
        y AS (SELECT x.ua, x.ub, x.ka, unnest(tb.pcs) AS kb FROM x JOIN corridor_units tb
              ON tb.uid = x.ub)
        SELECT ua, ub, list(DISTINCT 'p:' || least(ka, kb) || '|' || greatest(ka, kb)) AS keys
        FROM y WHERE ka <> kb GROUP BY ua, ub""",
        """CREATE TEMP TABLE corridor_p AS
          SELECT unique_id, list(DISTINCT k ORDER BY k) AS pair_keys
          FROM (SELECT rp.unique_id, unnest(pk.keys) AS k FROM corridor_rp rp
                JOIN corridor_pk pk ON pk.ua = rp.ua AND pk.ub = rp.ub)
          GROUP BY unique_id""",
        # Each chain's coarse skeletons in their order, a shorter one as a null; a
        # record's distinct chains with a name of two letters or more, sorted (``seq_cs``).
        """CREATE TEMP TABLE corridor_seq AS
        WITH s AS (
          SELECT r.unique_id,
            list(CASE WHEN length(u.c) >= 2 THEN u.cx END ORDER BY r.i) AS seq,
            bool_or(length(u.c) >= 2) AS named
          FROM corridor_ru r JOIN corridor_units u ON u.uid = r.uid
          GROUP BY r.unique_id, r.ci)
        SELECT unique_id, list_sort(list_distinct(list(seq) FILTER (WHERE named))) AS seq_cs
        FROM s GROUP BY unique_id""",
        # The first unit of each place (its scalar columns).
        """CREATE TEMP TABLE corridor_rf AS
        SELECT a.unique_id, a.sg, a.sf, a.sc, a.sy,
          ug.sk AS g_sk, ug.lat AS g_lat, ug.c AS g_c, uf.sk AS f_sk, uf.c AS f_c,
          ur.c AS r_c, uy.sk AS y_sk, uy.lat AS y_lat, uy.c AS y_c
        FROM corridor_rs a
          LEFT JOIN corridor_units ug ON ug.uid = a.fg
          LEFT JOIN corridor_units uf ON uf.uid = a.ff
          LEFT JOIN corridor_units ur ON ur.uid = a.fr
          LEFT JOIN corridor_units uy ON uy.uid = a.fy""",
        f"""CREATE TABLE {out} AS
        SELECT {', '.join(cols)}
        FROM {raw} r LEFT JOIN corridor_rf a ON a.unique_id = r.unique_id
          LEFT JOIN corridor_p p ON p.unique_id = r.unique_id
          LEFT JOIN corridor_seq q ON q.unique_id = r.unique_id
          LEFT JOIN corridor_sets g ON g.s = a.sg
          LEFT JOIN corridor_sets f ON f.s = a.sf
          LEFT JOIN corridor_sets c ON c.s = a.sc
          LEFT JOIN corridor_sets y ON y.s = a.sy""",
    ]

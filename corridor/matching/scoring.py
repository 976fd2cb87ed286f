"""Scoring a candidate against a sought person: weights, probability, explanation.

The total weight is a Fellegi-Sunter sum of evidence in bits. Names count by
position (given, father+grandfather as one piece, family) and by rarity;
birth year, sex, nationality, origin, mother's and relatives' names and exact
identifiers add their own evidence. The probabilities of a search's candidates
are computed together (``Calibration.probabilities``): each candidate's odds
against "none of them" (not registered, or not offered), whose odds grow with the
registry's size, and against every other candidate, so that two persons who fit
equally well share the probability.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rapidfuzz import fuzz

from corridor.matching.blocking import coarse_skeleton
from corridor.matching.compare import (
    DIFFERENT,
    LEVEL_WORDS,
    SAME,
    SCRIPT,
    SIMILAR,
    SPELLING,
    UnitComparator,
    vowels_agree,
)
from corridor.matching.keys import UnitKeys, unit_keys
from corridor.matching.model import Model
from corridor.matching.normalise import NameUnit, parse_name
from corridor.matching.records import CHAIN, FAMILY, GIVEN, GIVEN2, NameChain, PersonRecord
from corridor.matching.variants import (
    DEFAULT_POPULATION,
    FREQUENCY_TABLE_TOTAL,
    VariantTable,
    load_default_frequencies,
)
from corridor.text import N_, Listing, Text

__all__ = ["FieldEvidence", "Match", "Matcher"]

_NO_WORDS = Text("")
_spoken = N_
_LABELS: dict[str, Text] = {}


def _unsaid(msgid: str, /, **params: Any) -> Text:
    """``N_`` where nobody reads the words (``explain=False``): a label without
    parameters made once, a sentence with parameters not made at all."""
    if params:
        return _NO_WORDS
    hit = _LABELS.get(msgid)
    if hit is None:
        hit = _LABELS[msgid] = Text(msgid)
    return hit


_PLACE_NOISE = frozenset(
    ["village", "district", "province", "area", "city", "town", "governorate", "camp", "sub",
     "region", "of", "the", "near", "muhafazat", "wilayat", "mintaqat"]
)


# Role of the only name of a one-name query: it may be a given or a family name.
ANY = "any"

# Given names often carried as a silent first part (Mohammad Naim, called Naim).
_PREFIX_NAMES = frozenset(["MHMD"])


@dataclass(frozen=True)
class FieldEvidence:
    """How one field counted: ``level`` in plain words, ``weight`` in bits, and a sentence."""

    field: str
    level: str
    weight: float
    text: str


@dataclass(frozen=True)
class Match:
    """A candidate with its probability of being the sought person and why."""

    record_id: str
    probability: float
    weight: float
    explanation: list[FieldEvidence] = field(default_factory=list)


@dataclass
class _NameResult:
    weight: float
    evidence: list[FieldEvidence]
    given_missed: bool = False
    given_elsewhere: bool = False
    family_matched: bool = False
    agreed: bool = False  # at least one name unit agrees
    best_unit: float = 0.0  # weight (bits) of the rarest agreeing name unit
    # The given name only looks like the candidate's (Yasser/Nasser, Rana/Rania): another
    # name, as brothers' and sisters' names often are, not another spelling of it.
    given_lookalike: bool = False
    # The father's names differ under an agreeing grandfather (``_father_shift``).
    father_differs: bool = False
    # The look-alike is seen in the Arabic script (``_ending_differs``).
    script_says_other: bool = False
    capped: bool = False  # the brothers' cap applied (given name differs, the rest agrees)

    @property
    def kin_only(self) -> bool:
        """The given name disagrees (or only looks alike): what else agrees fits a
        brother, sister or parent as well as the person."""
        return self.given_missed or self.given_lookalike


def _syllabic(q: NameChain, c: NameChain) -> bool:
    """Both names are made only of syllables of Korean or Chinese names (Kim Sok Chol);
    whatever their order."""
    return q.syllabic and c.syllabic


def _display(unit: NameUnit) -> str:
    if unit.script == "ar":
        return " ".join(unit.parts)
    return " ".join(p.capitalize() for p in unit.parts)


def _place_units(text: str | None) -> tuple[NameUnit, ...]:
    if not text:
        return ()
    out: list[NameUnit] = []
    for piece in re.split(r"[,;/()]", text):
        words = [w for w in piece.split() if w.casefold() not in _PLACE_NOISE]
        out.extend(parse_name(" ".join(words)))
    return tuple(out)


class Matcher:
    """Scores and ranks candidates for a sought person.

    ``frequencies`` maps a name skeleton (``keys.skeleton``; storage can count
    them with ``frequency_keys``) to the number of persons bearing it among
    ``population`` persons (the registry searched; it sets the prior). Without
    it the shipped table (persons per million) is used. The same mapping may
    hold ``"nat:<ISO3>"`` -> persons of that nationality (the count of the
    ``nat:<ISO3>`` blocking key, see ``nationality_key``): agreeing
    on a rare nationality then counts more (``nationality_weight``); without it,
    nationality agreement counts ``FieldRules.nationality_same``.

    >>> m = Matcher.default()
    >>> q = PersonRecord("q", full_name="Abdul Qadeer Basir", birth_year=1964)
    >>> c = PersonRecord("c", name_original_script="عبد القدير بصير", birth_year=1964)
    >>> m.score(q, c).probability > 0.5
    True
    """

    def __init__(
        self,
        model: Model,
        frequencies: Mapping[str, int] | None = None,
        population: int | None = None,
        variants: VariantTable | None = None,
        frequency_total: int | None = None,
    ) -> None:
        self.model = model
        # The shipped table is the prior for name shares; a caller's counts update it.
        self._default_counts = load_default_frequencies()
        if frequencies is None:
            frequencies = self._default_counts
            frequency_total = FREQUENCY_TABLE_TOTAL
        self.frequencies = frequencies
        self.population = max(int(population or DEFAULT_POPULATION), 2)
        # Name shares are counts / frequency_total (the population the counts come from).
        self.frequency_total = frequency_total
        self.units = UnitComparator(variants or VariantTable.default())
        # Shares per skeleton; cleared when the population changes. A caller that
        # changes ``frequencies`` in place must call ``set_population`` (or ``forget``).
        self._share_memo: dict[str, float] = {}
        self._pair_memo: dict[tuple[UnitKeys, UnitKeys], tuple[str, float]] = {}
        self._prior_bits = self._even_odds()

    @classmethod
    def default(
        cls, frequencies: Mapping[str, int] | None = None, population: int | None = None
    ) -> Matcher:
        """A matcher with the shipped model and variant table."""
        return cls(Model.default(), frequencies, population)

    # -- probabilities -------------------------------------------------------------

    def set_population(self, population: int) -> None:
        """Registry size for the prior (a store calls this as it grows)."""
        self.population = max(int(population), 2)
        self._prior_bits = self._even_odds()
        self._share_memo.clear()
        self._pair_memo.clear()

    def forget(self) -> None:
        """Drop memoised name shares (after changing ``frequencies`` in place)."""
        self._share_memo.clear()
        self._pair_memo.clear()

    def _even_odds(self) -> float:
        cal = self.model.calibration
        return cal.none_utility(self.population) / max(cal.slope, 1e-9)

    @property
    def prior_bits(self) -> float:
        """The evidence (bits) a candidate scored alone needs for even odds in this
        registry (it grows with the registry: ``Calibration.none_utility``)."""
        return self._prior_bits

    def probability(self, weight: float) -> float:
        """Probability that a candidate of this weight, scored alone (a pair, as
        duplicate detection sees it), is the sought person."""
        return self.model.calibration.probabilities([weight], self.population)[0]

    def probabilities(self, weights: Sequence[float]) -> list[float]:
        """The probabilities of all the candidates of one search, which compete."""
        return self.model.calibration.probabilities(weights, self.population)

    # -- names -----------------------------------------------------------------------

    def share(self, unit: NameUnit) -> float:
        """Share of persons bearing this name.

        The caller's counts are smoothed towards the shipped table with
        ``frequency_prior_persons`` pseudo-persons, so that a small registry (where
        every name looks common, or unique) still weighs names sensibly.
        """
        return self._share(unit_keys(unit).skeleton)

    def _unit_share(self, k: UnitKeys) -> float:
        parts = k.unit.parts
        if len(parts) != 2 or parts[0] not in ("abu", "ابو"):
            return self._share(k.skeleton)
        # A kunya (Abu Mohammed) is as common as the son's name it is made of.
        core = unit_keys(NameUnit((parts[1],), k.script)).skeleton
        return max(self._share(k.skeleton), self._share(core))

    def _share(self, skeleton: str) -> float:
        hit = self._share_memo.get(skeleton)
        if hit is None:
            hit = self._share_memo[skeleton] = self._compute_share(skeleton)
        return hit

    def _compute_share(self, skeleton: str) -> float:
        rules = self.model.names
        total = self.frequency_total or self.population
        count = self.frequencies.get(skeleton, 0)
        if self.frequencies is self._default_counts:
            return max(count, rules.unseen_name_per_million) / total
        prior = (
            max(self._default_counts.get(skeleton, 0), rules.unseen_name_per_million)
            / FREQUENCY_TABLE_TOTAL
        )
        k = rules.frequency_prior_persons
        return (count + k * prior) / (total + k)

    def nationality_weight(self, nationality: str, name_bits: float = 0.0) -> float:
        """Bits for two records agreeing on ``nationality``, by its rarity.

        ``name_bits`` is the weight of the rarest name the two also agree on. A
        name is often rare in a registry *because* its bearers' nationality is
        (Korean names among Syrians), so the two are not independent evidence:
        the nationality adds its rarity only beyond what that name already said,
        ``min(rarity bits, nationality bits - name_bits)`` above the plain weight.

        >>> m = Matcher(Model.default(), {"nat:SYR": 9000, "nat:FRA": 10}, 30000)
        >>> round(m.nationality_weight("SYR"), 1), round(m.nationality_weight("FRA"), 1)
        (1.7, 8.0)
        >>> Matcher.default().nationality_weight("FRA")  # no count given: the plain weight
        1.0
        """
        f = self.model.fields
        code = nationality.strip().upper()
        hit = self._share_memo.get("nat:" + code)
        if hit is None:
            count = self.frequencies.get("nat:" + code)
            if count is None or self.frequencies is self._default_counts:
                hit = -1.0  # unknown: the plain weight
            else:
                total = self.population if self.frequency_total is None else self.frequency_total
                k = f.nationality_prior_persons
                hit = (count + k * f.nationality_prior_share) / (total + k)
            self._share_memo["nat:" + code] = hit
        if hit < 0:
            return f.nationality_same
        w = min(f.nationality_weight_cap, math.log2(f.nationality_m / hit))
        extra = min(w - f.nationality_same, w - max(name_bits, 0.0))
        return f.nationality_same + max(extra, 0.0)

    def rarity_words(self, unit: NameUnit) -> str:
        s = self.share(unit)
        if s >= 0.01:
            return N_("a very common name, counts little")
        if s >= 0.001:
            return N_("a common name")
        return N_("an uncommon name, counts much")

    def unit_weight(self, level: str, q: NameUnit, c: NameUnit) -> float:
        """Weight in bits of two name units agreeing at ``level``."""
        return self._unit_weight(level, unit_keys(q), unit_keys(c))

    def _unit_weight(self, level: str, q: UnitKeys, c: UnitKeys) -> float:
        if level == DIFFERENT:
            return 0.0
        return self._weight_at_share(level, max(self._unit_share(q), self._unit_share(c)))

    def _weight_at_share(self, level: str, u: float) -> float:
        """Bits of agreeing at ``level`` on a name borne by a share ``u`` of persons."""
        rules = self.model.names
        m = {SAME: rules.m_same, SPELLING: rules.m_spelling, SCRIPT: rules.m_script}.get(
            level, rules.m_similar
        )
        if level == SIMILAR:
            u = min(1.0, u * rules.u_factor_similar + 0.002)
        return min(rules.unit_weight_cap, math.log2(m / max(u, rules.u_floor)))

    def _role_factor(self, qr: str, cr: str) -> float:
        """How much a name agreeing in another position counts (1: same position)."""
        if qr == cr:
            return 1.0
        if qr == ANY:  # a single name: given or family, we cannot tell
            return 1.0 if cr != CHAIN else self.model.names.chain_family_factor
        if qr == GIVEN or cr == GIVEN:
            if GIVEN2 in (qr, cr):
                return self.model.names.chain_family_factor
            return self.model.names.out_of_place_factor
        return self.model.names.chain_family_factor

    def _align(
        self, q: NameChain, c: NameChain, q_keys: tuple[UnitKeys, ...], q_roles: tuple[str, ...]
    ) -> tuple[float, list[tuple[int, int, str, float]]]:
        """Best order-preserving alignment of query units onto candidate units."""
        n, m = len(q_keys), len(c.units)
        c_keys = c.keys
        c_roles = c.roles
        memo = self._pair_memo
        if len(memo) > 1_000_000:
            memo.clear()
        pair: list[list[tuple[str, float, float] | None]] = []
        any_hit = False
        # Two names made only of Korean or Chinese syllables (Kim Sok Chol): such names
        # are built from a small stock of syllables, so among the persons who bear them
        # each syllable is common (Kim alone: one Korean in five), however rare it is in
        # the registry as a whole. Each agreeing syllable counts at most as a name borne
        # by ``NameRules.syllable_share`` of persons. Names with any other unit (Din Mohammad, Gul
        # Agha) are weighed as usual.
        syllabic = _syllabic(q, c)
        for i in range(n):
            row: list[tuple[str, float, float] | None] = []
            qk, qr = q_keys[i], q_roles[i]
            for j in range(m):
                ck = c_keys[j]
                hit = memo.get((qk, ck))
                if hit is None:
                    lvl = self.units.level_keys(qk, ck)
                    hit = memo[(qk, ck)] = (lvl, self._unit_weight(lvl, qk, ck))
                lvl, w = hit
                if lvl == DIFFERENT:
                    row.append(None)
                    continue
                if syllabic:
                    w = min(w, self._weight_at_share(lvl, self.model.names.syllable_share))
                any_hit = True
                cr = c_roles[j]
                row.append((lvl, w, w if qr == cr else w * self._role_factor(qr, cr)))
            pair.append(row)
        if not any_hit:
            return 0.0, []
        # dp[i][j]: best score using q[:i], c[:j]
        dp = [[0.0] * (m + 1) for _ in range(n + 1)]
        for i in range(1, n + 1):
            for j in range(1, m + 1):
                best = max(dp[i - 1][j], dp[i][j - 1])
                p = pair[i - 1][j - 1]
                if p is not None and p[2] > 0:
                    best = max(best, dp[i - 1][j - 1] + p[2])
                dp[i][j] = best
        out: list[tuple[int, int, str, float]] = []
        i, j = n, m
        while i > 0 and j > 0:
            p = pair[i - 1][j - 1]
            if p is not None and p[2] > 0 and dp[i][j] == dp[i - 1][j - 1] + p[2]:
                out.append((i - 1, j - 1, p[0], p[1]))
                i -= 1
                j -= 1
            elif dp[i][j] == dp[i - 1][j]:
                i -= 1
            else:
                j -= 1
        out.reverse()
        return dp[n][m], out

    def _compare_chains(self, q: NameChain, c: NameChain, explain: bool) -> _NameResult:
        roles = q.roles if len(q.units) > 1 else (ANY,)
        res = self._chain_result(q, c, q.units, q.keys, roles, False, explain)
        if (len(q.units) >= 2 and len(c.units) >= 2 and res.given_missed
                and self._may_be_family(q.keys[0], c)):
            # Family name written first ("MADANI Zia-ur-Rahman"): try it last. (Taken
            # only where the family name then agrees: not tried where the first name
            # agrees with no family name of ``c``.)
            alt = self._chain_result(
                q, c, q.units[1:] + q.units[:1], q.keys[1:] + q.keys[:1], q.roles, True, explain
            )
            if alt.weight > res.weight and alt.family_matched:
                res = alt
        if len(q.units) >= 2 and len(c.units) >= 2 and _syllabic(q, c):
            # A Korean or Chinese name in Latin letters is written family name first (Han
            # Jang Su) or, in the Western order, last (Chang-Su Han): try it first.
            alt = self._chain_result(
                q, c, q.units[-1:] + q.units[:-1], q.keys[-1:] + q.keys[:-1], q.roles, True,
                explain, written_last=True,
            )
            if alt.weight > res.weight:
                res = alt
        if res.kin_only or res.father_differs:
            # Brothers and cousins share father, grandfather and family names: when the
            # given name disagrees, or only looks like the other (Yasser and Nasser,
            # Rana and Rania are brothers' and sisters' names, not spellings of one
            # name), the rest of the chain says "same family", not "same person", so its
            # weight is capped below the prior.
            rules = self.model.names
            cap = self._prior_bits + (
                rules.given_elsewhere_cap if res.given_elsewhere
                else rules.given_different_cap if res.kin_only
                else rules.father_different_cap
            )
            if res.weight > cap:
                if explain:
                    res.evidence.append(FieldEvidence(
                        N_("given name"), N_("family names agree, given name does not"),
                        cap - res.weight,
                        N_("The given name differs while other names agree: this fits brothers, "
                           "cousins or father and son, so the shared names count for little.")
                        if res.given_missed else
                        N_("The given names only look alike while other names agree: this "
                           "fits brothers or sisters with similar names, so the shared names "
                           "count for little.")
                        if res.given_lookalike else
                        N_("The father's names differ while other names agree: this fits "
                           "cousins named after one grandparent, so the shared names count "
                           "for little.")))
                res = _NameResult(cap, res.evidence, res.given_missed, res.given_elsewhere,
                                  res.family_matched, res.agreed, res.best_unit,
                                  res.given_lookalike, res.father_differs,
                                  res.script_says_other, capped=True)
        return res

    def _may_be_family(self, qk: UnitKeys, c: NameChain) -> bool:
        """Whether the query's name ``qk`` agrees at any level with a family name of
        ``c`` (an alignment can pair them only then)."""
        level = self.units.level_keys
        for r, ck in zip(c.roles, c.keys, strict=True):
            if r == FAMILY and level(qk, ck) != DIFFERENT:
                return True
        return False

    def _chain_result(
        self,
        q: NameChain,
        c: NameChain,
        q_units: tuple[NameUnit, ...],
        q_keys: tuple[UnitKeys, ...],
        q_roles: tuple[str, ...],
        reordered: bool,
        explain: bool,
        written_last: bool = False,
    ) -> _NameResult:
        rules = self.model.names
        _, pairs = self._align(q, c, q_keys, q_roles)
        ev: list[FieldEvidence] = []
        total = 0.0
        c_roles = c.roles
        matched_role: dict[int, str] = {}
        chain_ws: list[float] = []
        chain_words: list[Text] = []
        lookalike = script_says = False
        two = q.open_second and q_roles == (GIVEN, FAMILY)
        for i, j, lvl, w in pairs:
            qr, cr = q_roles[i], c_roles[j]
            if (
                qr == GIVEN
                and j == 1
                and c_roles[0] == GIVEN
                and not c.father_known
                and c.keys[0].skeleton in _PREFIX_NAMES
            ):
                # "Naim" for "Mohammad Naim": a leading Mohammad is often left out.
                cr = GIVEN2
            if two and i == 1 and j == 1 and cr in (CHAIN, GIVEN2):
                # The second of two names is the father's (Ahmad Hassan: Ahmad, son of
                # Hassan) or the second of a double given name (Mohammad Naim) as often
                # as the family name: found right after the given name, it is that.
                qr = cr
            matched_role[i] = cr
            if qr == GIVEN and cr == GIVEN and lvl == SIMILAR:
                lookalike = _lookalike(q_keys[i], c.keys[j])
            elif qr == GIVEN and cr == GIVEN and lvl == SCRIPT:
                lookalike = script_says = _ending_differs(q_keys[i], c.keys[j])
            words = _NO_WORDS
            if explain:
                words = N_(
                    "{query} and {candidate}: {level} ({rarity})",
                    query=repr(_display(q_units[i])),
                    candidate=repr(_display(c.units[j])),
                    level=LEVEL_WORDS[lvl],
                    rarity=self.rarity_words(c.units[j]),
                )
            if qr == cr == CHAIN:
                chain_ws.append(w)
                chain_words.append(words)
            elif qr == cr:
                total += w
                if explain:
                    if qr == FAMILY:
                        label, text = N_("family name"), N_("Family name: {names}.", names=words)
                    else:
                        label, text = N_("given name"), N_("Given name: {names}.", names=words)
                    ev.append(FieldEvidence(label, LEVEL_WORDS[lvl], w, text))
            else:
                factor = self._role_factor(qr, cr)
                total += w * factor
                if explain:
                    ev.append(FieldEvidence(
                        N_("name order"),
                        N_("{level}, in another position", level=LEVEL_WORDS[lvl]),
                        w * factor,
                        N_("A name found in another position of the chain: {names}.",
                           names=words)))
        if chain_ws:
            chain_ws.sort(reverse=True)
            w = chain_ws[0] + rules.chain_extra_factor * sum(chain_ws[1:])
            total += w
            if explain:
                ev.append(FieldEvidence(
                    N_("father and grandfather"),
                    N_("agree") if len(chain_ws) > 1 else N_("partly agree"),
                    w,
                    N_("Father's/grandfather's names (counted as one piece of evidence, "
                       "since brothers share them): {names}.",
                       names=Listing("; ", chain_words))))
        given_missed = given_elsewhere = False
        c_has = c.role_set
        unmatched = 0
        unmatched_names: list[str] = []
        chain_seen = chain_hit = False
        for i, qr in enumerate(q_roles):
            got = matched_role.get(i)
            if qr == GIVEN and GIVEN in c_has:
                if got in (GIVEN, GIVEN2):
                    continue
                given_missed = True
                if got is not None:
                    given_elsewhere = True
                    total += rules.given_elsewhere
                    if explain:
                        ev.append(FieldEvidence(
                            N_("given name"), N_("found elsewhere in the name"),
                            rules.given_elsewhere,
                            N_("The given name is not this person's given name but appears "
                               "elsewhere in the name.")))
                else:
                    total += rules.given_different
                    if explain:
                        ev.append(FieldEvidence(
                            N_("given name"), N_("different"), rules.given_different,
                            N_("Given name differs: {name} not found.",
                               name=repr(_display(q_units[i])))))
            elif qr == FAMILY and FAMILY in c_has:
                if got is None:
                    total += rules.family_different
                    if explain:
                        ev.append(FieldEvidence(
                            N_("family name"), N_("different"), rules.family_different,
                            N_("Family name differs: {name} not found.",
                               name=repr(_display(q_units[i])))))
            elif got is None:
                if qr == CHAIN and CHAIN in c_has:
                    chain_seen = True
                unmatched += 1
                if explain:
                    unmatched_names.append(repr(_display(q_units[i])))
            elif qr == CHAIN:
                chain_seen = chain_hit = True
        # Only where the candidate's record says which name is the father's (a chain
        # guessed from a full name may hold a laqab or "bin" where a father would be).
        shift = None
        if chain_seen and not chain_hit:
            # All of the father's/grandfather's names differ: one piece of evidence.
            unmatched -= sum(
                1 for i, r in enumerate(q_roles) if r == CHAIN and i not in matched_role
            )
            if c.father_known and self._fathers_differ(q_keys, q_roles, c):
                # Both records give the father's name and the names are two names, not
                # two spellings: families know the father's name, so this is another
                # person (the penalty and the cap of ``father_different`` below).
                shift = True
            else:
                total += rules.chain_different
                if explain:
                    ev.append(FieldEvidence(N_("father and grandfather"), N_("different"),
                                            rules.chain_different,
                                            N_("Father's/grandfather's names differ.")))
        elif chain_hit and c.father_known:
            shift = self._father_shift(q_keys, q_roles, c, pairs)
        if shift is not None:
            # The father's name differs while the grandfather's agrees, or the query's
            # father is this person's grandfather: cousins, or an aunt and her niece.
            # (Or no name of the chain agrees: another person, brothers' sons among them.)
            if shift and chain_hit:
                unmatched -= 1
            total += rules.father_different
            if explain:
                ev.append(FieldEvidence(
                    N_("father's name"), N_("different"), rules.father_different,
                    N_("The father's name differs (other names of the chain agree): this fits "
                       "cousins, or an uncle or aunt and a nephew or niece.") if chain_hit
                    else N_("Father's/grandfather's names differ.")))
        # A name of the query not found counts against only where the candidate has a
        # different name left over (a shorter record is silent, not contradicting).
        unmatched = min(unmatched, len(c.units) - len(pairs))
        if unmatched > 0 and pairs and not given_missed and _syllabic(q, c):
            # Korean and Chinese given names are two syllables, and brothers, sisters and
            # cousins share one of them (the generation name): Kim Jin-Sok and Kim Sok
            # Chol agree on the family name and one syllable, and differ on the other.
            # That is another given name, as brothers' are (the cap below applies).
            given_missed = True
            total += rules.given_different
            if explain:
                ev.append(FieldEvidence(
                    N_("given name"), N_("different"), rules.given_different,
                    N_("Given name differs: {name} not found.", name=", ".join(unmatched_names))))
            unmatched = 0
        if unmatched > 0:
            w = rules.unmatched_unit * unmatched
            total += w
            if explain:
                ev.append(FieldEvidence(N_("name"), N_("extra names"), w,
                                        N_("Names not found in this person's name: {names}.",
                                           names=", ".join(unmatched_names))))
        if reordered and written_last:
            total += rules.reordered_penalty
            if explain:
                ev.append(FieldEvidence(
                    N_("name order"), N_("family name written last"), rules.reordered_penalty,
                    N_("Matches only if the family name was written last, as Korean and "
                       "Chinese names often are in Latin letters.")))
        elif reordered:
            total += rules.reordered_penalty
            if explain:
                ev.append(FieldEvidence(N_("name order"), N_("family name written first"),
                                        rules.reordered_penalty,
                                        N_("Matches only if the family name was written first.")))
        last = len(q_roles) - 1
        family_matched = q_roles[last] == FAMILY and matched_role.get(last) == FAMILY
        if q_roles[last] == FAMILY and matched_role.get(last) == CHAIN and not reordered:
            # The query's family name is a name of this person's chain (his father's or
            # grandfather's) while his own family name is another: the two records give
            # two family names. (The chain name still counts, in another position.)
            c_family = [j for j, r in enumerate(c_roles) if r == FAMILY]
            if c_family and not any(j in c_family for _, j, _, _ in pairs):
                total += rules.family_different
                if explain:
                    ev.append(FieldEvidence(
                        N_("family name"), N_("different"), rules.family_different,
                        N_("Family name differs: {name} not found.",
                           name=repr(_display(c.units[c_family[-1]])))))
        best_unit = max((w for _, _, _, w in pairs), default=0.0)
        return _NameResult(total, ev, given_missed, given_elsewhere, family_matched, bool(pairs),
                           best_unit, lookalike, shift is not None, script_says)

    def _fathers_differ(
        self, q_keys: tuple[UnitKeys, ...], q_roles: tuple[str, ...], c: NameChain
    ) -> bool:
        """Both chains give a father's name (the first name of the chain) and they are
        two names: not a spelling, not similar, not the same coarse consonants
        (Chaled/Khaled)."""
        qf = next((i for i, r in enumerate(q_roles) if r == CHAIN), None)
        cf = next((j for j, r in enumerate(c.roles) if r == CHAIN), None)
        if qf is None or cf is None:
            return False
        qk, ck = q_keys[qf], c.keys[cf]
        return (
            self.units.level_keys(qk, ck) == DIFFERENT
            and coarse_skeleton(qk.skeleton) != coarse_skeleton(ck.skeleton)
        )

    def _father_shift(
        self,
        q_keys: tuple[UnitKeys, ...],
        q_roles: tuple[str, ...],
        c: NameChain,
        pairs: list[tuple[int, int, str, float]],
    ) -> bool | None:
        """Whether the father's names disagree while both records give one: ``True``
        when the query's father's name is found nowhere, ``False`` when it is found as
        the candidate's grandfather's; ``None`` when the fathers agree, may be one name
        spelt apart (same coarse consonants: Chaled/Khaled), or one is not given."""
        qf = next((i for i, r in enumerate(q_roles) if r == CHAIN), None)
        cf = next((j for j, r in enumerate(c.roles) if r == CHAIN), None)
        if qf is None or cf is None or any(j == cf for _, j, _, _ in pairs):
            return None
        qk, ck = q_keys[qf], c.keys[cf]
        if (
            self.units.level_keys(qk, ck) != DIFFERENT
            or coarse_skeleton(qk.skeleton) == coarse_skeleton(ck.skeleton)
        ):
            return None
        got = next((j for i, j, _, _ in pairs if i == qf), None)
        if got is None:
            return True
        if got > cf and c.roles[got] == CHAIN:
            return False
        return None

    def compare_names(
        self, query: PersonRecord, candidate: PersonRecord, explain: bool = True
    ) -> _NameResult:
        best: _NameResult | None = None
        lookalike: _NameResult | None = None
        agreed = False
        for qc in query.name_chains():
            for cc in candidate.name_chains():
                r = self._compare_chains(qc, cc, explain)
                agreed = agreed or r.agreed
                if best is None or r.weight > best.weight:
                    best = r
                if r.script_says_other and (lookalike is None or r.weight > lookalike.weight):
                    lookalike = r
        if lookalike is not None and best is not None and not best.kin_only:
            # One spelling shows the given names are two names (the Arabic script writes
            # the final vowel of Samira, سميرة, which Samar, سمر, lacks): it outweighs a
            # Latin spelling that cannot tell them apart.
            best = lookalike
        if best is None:
            return _NameResult(0.0, [FieldEvidence(N_("name"), N_("missing"), 0.0,
                                                   N_("No name to compare."))])
        rules = self.model.names
        floor = rules.no_name_agrees_floor + (rules.some_name_agrees_margin if agreed else 0.0)
        if best.weight < floor and not best.capped:
            # (Not for brothers: the cap above says "same family, another person".)
            # Another name the person is known by (a kunya, a nickname) is as likely
            # as a misspelt one: names that disagree say "some other name", not
            # "another person" many times over. Agreeing on some name is never worse
            # than agreeing on none.
            ev = best.evidence
            if explain:
                ev = [*ev, FieldEvidence(
                    N_("name"), N_("names mostly differ") if agreed else N_("no name in common"),
                    floor - best.weight,
                    N_("The names differ; this may be another name the person is known by "
                       "(a kunya, a nickname), so the difference counts only so much."))]
            return _NameResult(floor, ev, best.given_missed, best.given_elsewhere,
                               best.family_matched, agreed, best.best_unit,
                               best.given_lookalike, best.father_differs,
                               best.script_says_other)
        return best

    # -- other fields ------------------------------------------------------------------

    def _best_unit_level(
        self, a: Iterable[NameUnit], b: Iterable[NameUnit]
    ) -> tuple[str, NameUnit | None, NameUnit | None]:
        order = [SAME, SPELLING, SCRIPT, SIMILAR]
        best, ba, bb = DIFFERENT, None, None
        b_list = list(b)
        for x in a:
            for y in b_list:
                lvl = self.units.level(x, y)
                if lvl != DIFFERENT and (best == DIFFERENT or order.index(lvl) < order.index(best)):
                    best, ba, bb = lvl, x, y
        return best, ba, bb

    def _other_fields(
        self, q: PersonRecord, c: PersonRecord, name_bits: float = 0.0, explain: bool = True
    ) -> list[FieldEvidence]:
        N_ = _spoken if explain else _unsaid  # the weights are the same; the words unread
        f = self.model.fields
        ev: list[FieldEvidence] = []
        if q.birth_year is not None and c.birth_year is not None:
            d = abs(q.birth_year - c.birth_year)
            tol = q.birth_year_tolerance + c.birth_year_tolerance
            if d == 0 and tol == 0:
                ev.append(FieldEvidence(N_("birth year"), N_("same"), f.birth_same,
                                        N_("Same birth year ({year}).", year=c.birth_year)))
            elif d <= tol + f.birth_close_years:
                ev.append(FieldEvidence(N_("birth year"), N_("close"), f.birth_close,
                                        N_("Birth years close ({a} and {b}).",
                                           a=q.birth_year, b=c.birth_year)))
            elif d <= tol + f.birth_near_years:
                ev.append(FieldEvidence(N_("birth year"), N_("{years} years apart", years=d),
                                        f.birth_near,
                                        N_("Birth years {years} years apart ({a} and {b}).",
                                           years=d, a=q.birth_year, b=c.birth_year)))
            else:
                far = f.birth_generation if d > tol + f.birth_generation_years else f.birth_far
                ev.append(FieldEvidence(N_("birth year"), N_("different"), far,
                                        N_("Birth years far apart ({a} and {b}).",
                                           a=q.birth_year, b=c.birth_year)))
        qs, cs = q.sex or q.named_sex, c.sex or c.named_sex
        if qs and cs:
            # A sex read from a title or kunya (Abu, Umm, Shaykh, Mullah) counts against
            # like a stated one ("Abu" is "father of", a Mullah is a man), but not for:
            # the persons a man's name finds are mostly men anyway.
            named = not (q.sex and c.sex)
            if qs == cs:
                if not named:
                    ev.append(FieldEvidence(N_("sex"), N_("same"), f.sex_same,
                                            N_("Same sex.")))
            else:
                ev.append(FieldEvidence(
                    N_("sex"), N_("different"), f.sex_different,
                    N_("Different sex (read from a title or kunya in the name: Abu, Umm, "
                       "Shaykh, Mullah).") if named else N_("Different sex.")))
        if q.nationality and c.nationality:
            if q.nationality.upper() == c.nationality.upper():
                w = self.nationality_weight(c.nationality, name_bits)
                rare = w > f.nationality_same + 1.0
                ev.append(FieldEvidence(
                    N_("nationality"),
                    N_("same, uncommon in the registry") if rare else N_("same"),
                    w,
                    N_("Same nationality ({nationality}), which few registered persons have.",
                       nationality=c.nationality)
                    if rare
                    else N_("Same nationality ({nationality}).", nationality=c.nationality)))
            else:
                ev.append(FieldEvidence(N_("nationality"), N_("different"),
                                        f.nationality_different,
                                        N_("Different nationality ({a} and {b}).",
                                           a=q.nationality, b=c.nationality)))
        qp, cp = _place_units(q.place_of_origin), _place_units(c.place_of_origin)
        if qp and cp:
            lvl, _, _ = self._best_unit_level(qp, cp)
            if lvl in (SAME, SPELLING, SCRIPT):
                ev.append(FieldEvidence(N_("place of origin"), N_("same place"), f.origin_same,
                                        N_("Same place of origin ({a} / {b}).",
                                           a=q.place_of_origin, b=c.place_of_origin)))
            elif lvl == SIMILAR:
                ev.append(FieldEvidence(N_("place of origin"), N_("similar place"),
                                        f.origin_similar,
                                        N_("Similar place of origin ({a} / {b}).",
                                           a=q.place_of_origin, b=c.place_of_origin)))
            else:
                ev.append(FieldEvidence(N_("place of origin"), N_("different"),
                                        f.origin_different,
                                        N_("Different place of origin ({a} / {b}).",
                                           a=q.place_of_origin, b=c.place_of_origin)))
        if q.mother_units and c.mother_units:
            # A mother's name the record does not hold itself (read from a linked
            # parent: a person the reader may not see) is compared, never quoted.
            cb: str | None = (N_("the mother linked to them") if c.mother_from_family
                              else c.mother_name)
            lvl, qm, cm = self._best_unit_level(q.mother_units[:1], c.mother_units[:1])
            if lvl in (SAME, SPELLING, SCRIPT) and qm is not None and cm is not None:
                # A common mother's name (Fatima) says less than a rare one; mothers are
                # women, half the persons whose names were counted.
                w = self._unit_weight(lvl, unit_keys(qm), unit_keys(cm)) - 1.0
                w = min(f.mother_same, max(f.mother_similar, w))
                if len(q.mother_units) > 1 and len(c.mother_units) > 1:
                    # Her family name agreeing too (al-Barazi) counts by its rarity.
                    qf, cf = unit_keys(q.mother_units[-1]), unit_keys(c.mother_units[-1])
                    lf = self.units.level_keys(qf, cf)
                    if lf in (SAME, SPELLING, SCRIPT):
                        w += min(f.mother_same, self._unit_weight(lf, qf, cf))
                ev.append(FieldEvidence(N_("mother's name"), LEVEL_WORDS[lvl], w,
                                        N_("Mother's name agrees ({a} / {b}).",
                                           a=q.mother_name, b=cb)))
            elif lvl == SIMILAR:
                ev.append(FieldEvidence(N_("mother's name"), LEVEL_WORDS[lvl], f.mother_similar,
                                        N_("Mother's name similar ({a} / {b}).",
                                           a=q.mother_name, b=cb)))
            else:
                ev.append(FieldEvidence(N_("mother's name"), N_("different"),
                                        f.mother_different,
                                        N_("Mother's name differs ({a} / {b}).",
                                           a=q.mother_name, b=cb)))
        ev.extend(self._relatives(q, c, explain))
        if q.registration_number and q.registration_number == c.registration_number:
            ev.append(FieldEvidence(N_("registration number"), N_("same"), f.registration_same,
                                    N_("Same registration number.")))
        if set(_norm_ids(q.document_numbers)) & set(_norm_ids(c.document_numbers)):
            ev.append(FieldEvidence(N_("document number"), N_("same"), f.document_same,
                                    N_("Same identity document number.")))
        if q.phone and c.phone and _norm_phone(q.phone) == _norm_phone(c.phone):
            ev.append(FieldEvidence(N_("phone"), N_("same"), f.phone_same,
                                    N_("Same phone number (households may share one).")))
        return ev

    def _relatives(
        self, q: PersonRecord, c: PersonRecord, explain: bool = True
    ) -> list[FieldEvidence]:
        """The relatives the enquiry names against the candidate's registered ones.

        A named relative found among the candidate's relatives counts by how rare the
        name is among that many relatives (agreeing on a brother Mohammed says little);
        the candidate's own given name among the enquiry's relatives says the candidate
        is a brother or sister of the person sought, not that person.
        """
        N_ = _spoken if explain else _unsaid  # the weights are the same; the words unread
        f = self.model.fields
        out: list[FieldEvidence] = []
        good = (SAME, SPELLING, SCRIPT)
        q_given = q.given_units
        own = [
            qr[0]
            for qr in q.relative_units
            if any(self.units.level(qr[0], g) in good for g in c.given_units)
            and not any(self.units.level(qr[0], g) in good for g in q_given)
        ]
        if own and not any(
            self.units.level(g, h) in good for g in q_given for h in c.given_units
        ):
            out.append(FieldEvidence(
                N_("relatives"), N_("this person is a named relative"), f.relative_is_candidate,
                N_("The enquiry names {name} as a relative of the person sought: this "
                   "person may be that relative.", name=_display(own[0]))))
        if out or not (q.relative_units and c.relative_units):
            return out
        n = len(c.relative_units)
        best: tuple[float, NameUnit, NameUnit, str] | None = None
        for qr in q.relative_units:
            qk = unit_keys(qr[0])
            for cr in c.relative_units:
                ck = unit_keys(cr[0])
                lvl = self.units.level_keys(qk, ck)
                if lvl == DIFFERENT:
                    continue
                # The chance that one of n relatives bears this name by chance; a name
                # only similar (Razane/Razan) counts its weaker weight, never against.
                w = self._unit_weight(lvl, qk, ck) - math.log2(n)
                floor = f.relative_same if lvl in good else 0.0
                w = min(f.relative_weight_cap, max(floor, w))
                if best is None or w > best[0]:
                    best = (w, qr[0], cr[0], lvl)
        if best is not None and best[0] > 0:
            w, q_name, _, lvl = best
            if lvl in good:
                out.append(FieldEvidence(N_("relatives"), N_("a relative's name agrees"), w,
                                         N_("A relative's name agrees ({name}).",
                                            name=_display(q_name))))
            else:
                # Only the enquiry's side is quoted: the registered relative may be
                # someone the reader may not see.
                out.append(FieldEvidence(N_("relatives"), N_("a relative's name is similar"), w,
                                         N_("A relative's name is similar ({name}).",
                                            name=_display(q_name))))
        return out

    # -- public --------------------------------------------------------------------------

    def score(
        self, query: PersonRecord, candidate: PersonRecord, explain: bool = True
    ) -> Match:
        """Compare ``query`` with ``candidate``; probability that they are one person.

        >>> m = Matcher.default()
        >>> a = PersonRecord("a", full_name="Ahmed Mohammed Ali Jabbouri")
        >>> b = PersonRecord("b", full_name="Ali Mohammed Ahmed Jabbouri")
        >>> m.score(a, b).probability < 0.5
        True
        """
        weight, ev = self._weigh(query, candidate, explain)
        return Match(candidate.record_id, self.probability(weight), weight, ev)

    def _weigh(
        self, query: PersonRecord, candidate: PersonRecord, explain: bool
    ) -> tuple[float, list[FieldEvidence]]:
        """``score``'s weight and evidence (its probability not yet reckoned)."""
        names = self.compare_names(query, candidate, explain)
        others = self._other_fields(query, candidate, names.best_unit, explain)
        if names.kin_only:
            others = [_shared_by_kin(e) for e in others]
        return names.weight + sum(e.weight for e in others), names.evidence + others

    def rank(
        self, query: PersonRecord, candidates: Iterable[PersonRecord], top: int = 10,
        explain: bool = True,
    ) -> list[Match]:
        """Score every candidate, best first, at most ``top``; each probability counts
        every candidate scored, not only the ``top`` returned (they compete).
        ``explain=False``: the matches carry no evidence (for callers that show none)."""
        return self.rank_weighed(query, candidates, top, explain, whole_order=False)[0]

    def rank_weighed(
        self, query: PersonRecord, candidates: Iterable[PersonRecord], top: int = 10,
        explain: bool = True, whole_order: bool = True,
    ) -> tuple[list[Match], list[tuple[str, float]]]:
        """``rank``, and ``(record_id, weight)`` of every candidate scored, best first
        (``whole_order=False``: in order only as far as the best ``top``; below them,
        candidates of equal weight in no particular order)."""
        cands = {c.record_id: c for c in candidates}
        # The probabilities are reckoned below, all candidates together.
        quick = [Match(rid, 0.0, *self._weigh(query, c, False)) for rid, c in cands.items()]
        least = None
        if not whole_order and len(quick) > top > 0:
            least = heapq.nlargest(top, (round(m.weight, 6) for m in quick))[-1]
        close = self._closeness_of_ties(query, quick, cands, least)
        quick.sort(key=lambda m: (-round(m.weight, 6), -close.get(m.record_id, 0.0),
                                  m.record_id))
        weights = [m.weight for m in quick]
        probabilities = self.probabilities(weights)
        out = [
            replace(self.score(query, cands[m.record_id]), probability=p) if explain
            else Match(m.record_id, p, m.weight, m.explanation)
            for m, p in zip(quick[:top], probabilities, strict=False)
        ]
        return out, [(m.record_id, m.weight) for m in quick]

    @staticmethod
    def _closeness_of_ties(
        query: PersonRecord, scored: list[Match], cands: dict[str, PersonRecord],
        least: float | None = None,
    ) -> dict[str, float]:
        """How alike the spellings look (0..100), the tie-breaker between candidates of
        equal weight: computed for those only (and of those, only for weights of at
        least ``least``, rounded as the ranking rounds them)."""
        by_weight: dict[float, list[str]] = {}
        for m in scored:
            w = round(m.weight, 6)
            if least is None or w >= least:
                by_weight.setdefault(w, []).append(m.record_id)
        tied = [rid for ids in by_weight.values() if len(ids) > 1 for rid in ids]
        if not tied:
            return {}
        q_text = [_spelling(ch) for ch in query.name_chains()]
        out: dict[str, float] = {}
        for rid in tied:
            c_text = [_spelling(ch) for ch in cands[rid].name_chains()]
            out[rid] = max((fuzz.token_sort_ratio(a, b) for a in q_text for b in c_text),
                           default=0)
        return out


# Fields brothers and sisters share: when the given name disagrees they say "same
# family", which the capped names already said.
_KIN_FIELDS = frozenset(["mother's name", "relatives"])


def _shared_by_kin(e: FieldEvidence) -> FieldEvidence:
    if e.weight <= 0 or str(e.field) not in _KIN_FIELDS:
        return e
    return FieldEvidence(
        e.field, N_("{level}, shared by brothers and sisters", level=e.level), 0.0,
        N_("{text} Brothers and sisters share it, and the given name differs: it counts "
           "nothing here.", text=e.text))


def _lookalike(a: UnitKeys, b: UnitKeys) -> bool:
    """Two one-word names found "similar" that differ in a consonant (Yasser/Nasser) or
    a long vowel (Rana/Rania): in Arabic these are two names, as brothers' and sisters'
    names often are. Names that differ only in how a sound is written in European
    languages (ch/kh, dj/j: Chadidja/Khadija; oe/u: Hoessein/Hussein) are taken as
    spellings: the consonants compared are the coarse classes of the blocking keys."""
    if len(a.unit.parts) != 1 or len(b.unit.parts) != 1:
        return False  # a part of a compound (Kader in Abd el-Kader) is a short form
    if coarse_skeleton(a.skeleton) != coarse_skeleton(b.skeleton):
        return True  # another consonant: Yasser/Nasser
    if a.script == b.script == "la" and (
        _ya_added(a.latin, b.latin) or _ya_added(b.latin, a.latin)
    ):
        return True
    return a.skeleton == b.skeleton and not vowels_agree(a, b)


# Arabic letters that may stand for a final vowel (or are ambiguous, as ه for ة).
_AR_VOWEL_END = frozenset("اىيوةهءئؤآأإ")


def _ending_differs(a: UnitKeys, b: UnitKeys) -> bool:
    """A Latin name ending in the vowel a against an Arabic one ending in a consonant:
    Samira (سميرة) is not Samar (سمر), Jamila not Jamil. The Arabic script writes the
    final vowel of a name (ة, ى, ا); it cannot be left out of it. And the other way, a
    woman's name made with ة from a man's against a Latin name that does not end in its
    vowel (nor writes it t or h: Hikmat, Samirah): Samir is not سميرة, Nabil not نبيلة,
    and a Latin i is not the -iya of عالية or فوزية (Ali, Fawzi)."""
    if a.script == b.script or len(a.unit.parts) != 1 or len(b.unit.parts) != 1:
        return False
    ar, la = (a, b) if a.script == "ar" else (b, a)
    word = la.unit.parts[0]
    if not ar.text or len(word) < 3 or len(ar.text) < 3:
        return False
    if ar.text[-1] == "ه" and ar.text[-2] not in "اوي":  # ة (ه once folded) after a consonant
        return word[-1] not in "aeiouyth"
    if ar.text.endswith("يه"):  # -iya, -iyya
        return word[-1] in "iy"
    # Only a final a: a French final e is silent (Hanane, Imane, Hassine are حنان, ...).
    if word[-1] != "a" or word[-2] in "aeiouy":
        return False
    return ar.text[-1] not in _AR_VOWEL_END


def _ya_added(longer: str, shorter: str) -> bool:
    """An ``i``/``y`` before the final ``a`` of a name ending in consonant + ``a``: the
    letter ya (Rania رانيا, Rana رنا; Dania, Dana), not a way of writing a vowel."""
    if len(shorter) < 3 or not shorter.endswith("a") or shorter[-2] in "aeiouy":
        return False
    stem = shorter[:-1]
    return any(longer == stem + ending for ending in ("ia", "ya", "iya", "iyya"))


def _spelling(chain: NameChain) -> str:
    return " ".join(k.latin for k in chain.keys)


def _norm_ids(values: Iterable[str]) -> list[str]:
    return [re.sub(r"[^0-9A-Za-z]", "", v).upper() for v in values if v]


def _norm_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    return digits[-9:]

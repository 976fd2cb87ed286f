"""The person record the engine compares, and its parsed name chains."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from corridor.matching.central_asian import central_asian_parts
from corridor.matching.keys import UnitKeys, unit_keys
from corridor.matching.normalise import (
    NameUnit,
    ends_with_article_name,
    join_split_compounds,
    name_sex,
    parse_name,
)
from corridor.matching.vocalised import vocalised_parts

__all__ = ["PersonRecord", "NameChain", "GIVEN", "GIVEN2", "CHAIN", "FAMILY"]

# GIVEN2: the second word of a given name in two words (Mohammad Naim, Ahmed Shah).
GIVEN, GIVEN2, CHAIN, FAMILY = "given", "given2", "chain", "family"


@dataclass(frozen=True, eq=False)
class NameChain:
    """A name as units in chain order with each unit's role (given/chain/family)."""

    units: tuple[NameUnit, ...]
    roles: tuple[str, ...]
    source: str  # which field it came from, for explanations
    # True where the record gives a one-word given name and a father's name of its own
    # and this chain has the roles its name parts give: its second name is then the
    # father's, never the rest of a given name in two words (Mohammed Zakaria is
    # Mohammed, son of Zakaria, not "Mohammed" Zakaria).
    father_known: bool = False
    # True where the chain's roles are the last word's place alone (a full name, a name
    # in another script), and that word is no family name by its article (al-Kassem,
    # Alali, الكاسم): its second of two names may be the father's or the second of a
    # double given name as well as the family name (``Matcher._chain_result``).
    open_second: bool = False

    @cached_property
    def role_set(self) -> frozenset[str]:
        return frozenset(self.roles)

    @cached_property
    def keys(self) -> tuple[UnitKeys, ...]:
        return tuple(unit_keys(u) for u in self.units)

    @cached_property
    def syllabic(self) -> bool:
        """Every name a syllable of Korean or Chinese names (Kim Sok Chol)."""
        return all(k.syllable for k in self.keys)

    @property
    def script(self) -> str:
        return self.units[0].script if self.units else "la"


def _roles(n: int, given_n: int = 1, family_n: int = 1) -> tuple[str, ...]:
    if n == 0:
        return ()
    if n == 1:
        return (GIVEN,)
    given_n = max(1, min(given_n, n - 1))
    family_n = max(1, min(family_n, n - given_n))
    return tuple(
        GIVEN if i == 0 else GIVEN2 if i < given_n else FAMILY if i >= n - family_n else CHAIN
        for i in range(n)
    )


@dataclass(frozen=True)
class PersonRecord:
    """A registered or sought person, as the matching engine sees them.

    Any field may be missing. ``birth_year_tolerance`` widens the birth year
    (an estimated age of "about 40" is ``birth_year=1985, birth_year_tolerance=3``).

    >>> PersonRecord("p1", full_name="Hassan Hamid Sarir", birth_year=1980).name_chains()[0].roles
    ('given', 'chain', 'family')
    """

    record_id: str
    given_name: str | None = None
    father_name: str | None = None
    grandfather_name: str | None = None
    family_name: str | None = None
    full_name: str | None = None
    name_original_script: str | None = None
    alternate_names: tuple[str, ...] = ()
    sex: str | None = None
    birth_year: int | None = None
    birth_year_tolerance: int = 0
    nationality: str | None = None
    place_of_origin: str | None = None
    mother_name: str | None = None
    relatives_names: tuple[str, ...] = ()
    registration_number: str | None = None
    phone: str | None = None
    document_numbers: tuple[str, ...] = ()
    # The mother's name was read from the person's family links or household (another
    # registered person's name), not recorded on the person: compared, never quoted.
    mother_from_family: bool = False

    @cached_property
    def named_sex(self) -> str | None:
        """The sex the person's name says where the record gives none: a man's or a
        woman's title or kunya at the start of a name (Abu Hamza, Mullah Omar, Umm
        Ahmad; ``normalise.name_sex``). None where the record gives its sex, or the
        names say nothing or disagree.

        >>> PersonRecord("q", full_name="Shaykh Aminullah").named_sex
        'm'
        >>> PersonRecord("q", full_name="Shaykh Aminullah", sex="f").named_sex is None
        True
        """
        if self.sex:
            return None
        said = {name_sex(n) for n in (self.full_name, self.given_name,
                                      self.name_original_script, *self.alternate_names)}
        said.discard(None)
        return said.pop() if len(said) == 1 else None

    def name_chains(self) -> tuple[NameChain, ...]:
        """All spellings of the person's name as chains (deduplicated)."""
        return self._chains

    def adopt_chains(self, chains: tuple[NameChain, ...]) -> None:
        """Take ``chains`` as this record's own: its ``name_chains()`` as another process
        read them from the same fields (``MemoryIndex.built``), so they are not read
        again here."""
        self.__dict__["_chains"] = chains

    @cached_property
    def _chains(self) -> tuple[NameChain, ...]:
        out: list[NameChain] = []
        seen: set[tuple[NameUnit, ...]] = set()
        given, father, grand, family = (
            parse_name(f) for f in join_split_compounds(central_asian_parts(vocalised_parts(
                [self.given_name, self.father_name, self.grandfather_name, self.family_name])))
        )
        # The record says which of its names is the father's (the first of the chain:
        # a compound split over the father's and grandfather's fields, Abdel / Attieh,
        # is joined into the later one).
        father_known = (
            len(given) == 1 and bool((self.father_name or "").strip()) and bool(father or grand)
        )
        known: tuple[str, ...] = ()  # the roles the name parts give, where they do

        def add(units: tuple[NameUnit, ...], roles: tuple[str, ...], source: str,
                text: str | None = None) -> None:
            if units and units not in seen:
                seen.add(units)
                # Another spelling of the same chain (the name in Arabic script) has the
                # roles the name parts say, where it has as many names.
                same = bool(known) and len(units) == len(known)
                use = known if same else roles
                # A longer spelling (a title kept in the full name: Yasin Haj Ali) still
                # begins with the given name and the father's, as the name parts say.
                longer = (
                    bool(known) and len(units) > len(known) and len(known) >= 3
                    and use[:2] == (GIVEN, CHAIN)
                )
                out.append(NameChain(units, use, source, father_known and (same or longer),
                                     not same and text is not None and len(units) == 2
                                     and not ends_with_article_name(text)))

        if given or father or grand or family:
            parts = given + father + grand + family
            if len({u.script for u in parts}) == 1:
                roles = (
                    (GIVEN,) + (GIVEN2,) * (len(given) - 1)
                    + (CHAIN,) * (len(father) + len(grand))
                    + (FAMILY,) * len(family)
                )
                if not given:
                    roles = _roles(len(parts))
                else:
                    known = roles
                add(parts, roles, "name parts")
        full = parse_name(self.full_name)
        if full:
            add(full, _roles(len(full), len(given) or 1, len(family) or 1), "full name",
                None if family else self.full_name)
        orig = parse_name(self.name_original_script)
        if orig:
            add(orig, _roles(len(orig)), "original script", self.name_original_script)
        for alt in self.alternate_names:
            units = parse_name(alt)
            add(units, _roles(len(units)), "other name")
        return tuple(out)

    @cached_property
    def origin_units(self) -> tuple[NameUnit, ...]:
        return parse_name(self.place_of_origin)

    @cached_property
    def mother_units(self) -> tuple[NameUnit, ...]:
        return parse_name(self.mother_name)

    @cached_property
    def relative_units(self) -> tuple[tuple[NameUnit, ...], ...]:
        return tuple(u for u in (parse_name(n) for n in self.relatives_names) if u)

    @cached_property
    def given_units(self) -> tuple[NameUnit, ...]:
        """The person's given name in each spelling and script they are recorded with."""
        out: dict[NameUnit, None] = {}
        for chain in self.name_chains():
            if len(chain.units) > 1 and chain.roles[0] == GIVEN:
                out[chain.units[0]] = None
        return tuple(out)

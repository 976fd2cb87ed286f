"""Corridor's person-matching engine: find a person across Arabic and Latin spellings.

Pure Python, no storage: records in, scored candidates with explanations out.

>>> from corridor.matching import Matcher, PersonRecord
>>> m = Matcher.default()
>>> q = PersonRecord("q", full_name="Abdelrahman Zahid", birth_year=1963)
>>> c = PersonRecord("c", name_original_script="عبد الرحمن زاهد", birth_year=1963)
>>> m.score(q, c).probability > 0.9
True
"""

from corridor.matching.blocking import (
    blocking_key_groups,
    blocking_keys,
    frequency_keys,
    nationality_key,
)
from corridor.matching.candidates import CandidatePolicy
from corridor.matching.compare import LEVEL_WORDS, UnitComparator
from corridor.matching.dedupe import find_duplicates, scored_pairs
from corridor.matching.index import MemoryIndex
from corridor.matching.model import Model
from corridor.matching.normalise import normalise_arabic, normalise_latin, parse_name
from corridor.matching.records import PersonRecord
from corridor.matching.scoring import FieldEvidence, Match, Matcher

__all__ = [
    "CandidatePolicy",
    "FieldEvidence",
    "LEVEL_WORDS",
    "Match",
    "Matcher",
    "MemoryIndex",
    "Model",
    "PersonRecord",
    "UnitComparator",
    "blocking_key_groups",
    "blocking_keys",
    "find_duplicates",
    "frequency_keys",
    "nationality_key",
    "normalise_arabic",
    "normalise_latin",
    "parse_name",
    "scored_pairs",
]

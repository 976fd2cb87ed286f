"""The match model: comparison rules as plain values, saved as versioned JSON.

Every number here is a Fellegi-Sunter weight in bits (log2 of m/u) or a
probability used to derive one. ``Model.default()`` loads
``corridor/matching/data/model.json``; ``Model.to_json``/``from_json`` round-trip.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from importlib import resources
from typing import Any

__all__ = ["MODEL_FORMAT", "Model", "NameRules", "FieldRules", "Calibration"]

MODEL_FORMAT = "corridor-match-model/1"


@dataclass(frozen=True)
class NameRules:
    """How name agreement counts.

    A unit agreeing at a level is worth ``log2(m[level] / u)`` bits, where ``u``
    is how common the name is (share of persons bearing it) times
    ``u_factor[level]``; so agreeing on Mohammed says less than on Anwari.
    """

    m_same: float = 0.95
    m_spelling: float = 0.9
    m_script: float = 0.9
    m_similar: float = 0.3
    u_factor_similar: float = 8.0
    u_floor: float = 3e-5
    # Name shares: a caller's counts are smoothed towards the shipped table with this
    # many pseudo-persons; a name missing from the table counts this many per million.
    frequency_prior_persons: float = 1000.0
    unseen_name_per_million: float = 20.0
    unit_weight_cap: float = 13.0
    # Penalties (bits) when both sides give the part but it disagrees.
    given_different: float = -6.0
    given_elsewhere: float = -2.5
    family_different: float = -3.5
    chain_different: float = -3.0
    unmatched_unit: float = -1.0
    out_of_place_factor: float = 0.5
    chain_family_factor: float = 0.8
    chain_extra_factor: float = 0.3
    reordered_penalty: float = -2.0
    # When the given name disagrees, names may add at most log2(population) + cap bits.
    given_different_cap: float = -8.0
    given_elsewhere_cap: float = -4.0
    # The father's name differs while the grandfather's agrees (cousins), or the query's
    # father is the candidate's grandfather (an aunt and her niece).
    father_different: float = -5.0
    father_different_cap: float = -3.0
    # Names that disagree (a kunya or nickname instead of the name) count at most this
    # much against; agreeing on some name keeps the margin above that floor.
    no_name_agrees_floor: float = -4.0
    some_name_agrees_margin: float = 0.5
    # Names made only of Korean or Chinese syllables (Kim Sok Chol) are built from a
    # small stock of syllables: each agreeing syllable counts at most as a name borne
    # by this share of persons (1 in 100, a common name), however rare it is in the
    # registry as a whole (version 6; a constant of scoring.py before).
    syllable_share: float = 0.01


@dataclass(frozen=True)
class FieldRules:
    """Weights (bits) for the other fields."""

    birth_same: float = 3.0
    birth_close: float = 1.5
    birth_near: float = -1.5
    birth_far: float = -5.0
    birth_close_years: int = 2
    birth_near_years: int = 5
    # More than this many years apart (beyond both tolerances): a generation apart, as
    # a parent and a child whose chains agree are.
    birth_generation_years: int = 10
    birth_generation: float = -7.0
    sex_same: float = 0.7
    sex_different: float = -6.0
    # Nationality agreement is worth log2(nationality_m / share) bits, the share being
    # the count of ``nat:<ISO3>`` among the registry smoothed with
    # ``nationality_prior_persons`` pseudo-persons of share ``nationality_prior_share``;
    # at least ``nationality_same`` (also the weight when no count is given), at most
    # ``nationality_weight_cap``.
    nationality_same: float = 1.0
    nationality_different: float = -2.0
    nationality_m: float = 0.95
    nationality_prior_share: float = 0.5
    nationality_prior_persons: float = 200.0
    nationality_weight_cap: float = 9.0
    origin_same: float = 2.5
    origin_similar: float = 1.0
    origin_different: float = -0.3
    mother_same: float = 4.0
    mother_similar: float = 1.5
    mother_different: float = -2.0
    # A relative the enquiry names found among the candidate's registered relatives:
    # log2(m/u) of the name less log2(number of relatives), between these two.
    relative_same: float = 2.0
    relative_weight_cap: float = 8.0
    # The candidate's own given name is among the enquiry's relatives (a brother, sister).
    relative_is_candidate: float = -6.0
    registration_same: float = 20.0
    document_same: float = 15.0
    phone_same: float = 5.0


@dataclass(frozen=True)
class Calibration:
    """From weights (bits) to probabilities, for all candidates of a search at once.

    Candidate ``i`` of a search is the sought person with probability
    ``L_i / (L_none + sum_j L_j)``, the sum over every candidate scored, where
    ``L_i = exp(slope * w_i)`` and ``L_none = exp(prior_slope * log2(population) +
    offset - logit(registered_share))`` stands for "none of them": the sought person is
    not registered, or is someone the search did not offer. Candidates compete:
    twins, brothers or namesakes who fit equally well share the probability. A pair
    scored alone (duplicate detection, a new registration checked against one case)
    is a search of one candidate. ``slope``, ``prior_slope`` and ``offset`` are fitted
    (``training.fit_competition``) on searches of the dev benchmarks in registries of
    200, 2,000 and 30,000 persons; ``offset`` is stored for a ``registered_share`` of
    0.5, the benchmarks' own share (about 0.79) being taken out, so that the share of
    enquiries whose sought person is registered is a stated setting, not a number
    learnt from the benchmark. ``propose_at``: the probability from which the engine
    proposes a candidate for an enquiry (tracing), and ``duplicate_at`` the pair
    probability from which ``corridor duplicates`` calls two records one person, both
    chosen from measured precision (docs/matching.md, "Issue 14: calibration").
    """

    slope: float = 0.63
    prior_slope: float = 0.53
    offset: float = -0.6
    registered_share: float = 0.5
    propose_at: float = 0.3
    duplicate_at: float = 0.9

    def none_utility(self, population: int) -> float:
        """``log(L_none)`` in a registry of ``population`` persons."""
        share = min(max(self.registered_share, 1e-6), 1 - 1e-6)
        logit = math.log(share / (1 - share))
        return self.prior_slope * math.log2(max(population, 2)) + self.offset - logit

    def probabilities(self, weights: Sequence[float], population: int) -> list[float]:
        """Each candidate's probability of being the sought person (see the class).

        >>> cal = Calibration(slope=0.6, prior_slope=0.5, offset=0.0)
        >>> [round(p, 2) for p in cal.probabilities([30.0, 30.0], 1000)]
        [0.5, 0.5]
        >>> round(cal.probabilities([30.0], 1000)[0], 2)
        1.0
        """
        if not weights:
            return []
        none = self.none_utility(population)
        utils = [self.slope * w for w in weights]
        top = max(none, max(utils))
        # Summed exactly (``fsum``): the same whatever order the candidates come in.
        total = math.fsum([math.exp(none - top), *(math.exp(u - top) for u in utils)])
        return [math.exp(u - top) / total for u in utils]


def _build(cls: type[Any], data: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} settings: {sorted(unknown)}")
    return cls(**data)


@dataclass(frozen=True)
class Model:
    """All comparison rules and the calibration, versioned."""

    version: str = "dev"
    names: NameRules = field(default_factory=NameRules)
    fields: FieldRules = field(default_factory=FieldRules)
    calibration: Calibration = field(default_factory=Calibration)
    notes: str = ""

    def to_json(self) -> str:
        data = {"format": MODEL_FORMAT, **asdict(self)}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Model:
        data = json.loads(text)
        fmt = data.pop("format", None)
        if fmt != MODEL_FORMAT:
            raise ValueError(f"not a {MODEL_FORMAT} file (format={fmt!r})")
        return cls(
            version=str(data.get("version", "dev")),
            names=_build(NameRules, data.get("names", {})),
            fields=_build(FieldRules, data.get("fields", {})),
            calibration=_build(Calibration, data.get("calibration", {})),
            notes=str(data.get("notes", "")),
        )

    @classmethod
    def default(cls) -> Model:
        """The model shipped in ``corridor/matching/data/model.json``."""
        path = resources.files("corridor.matching").joinpath("data/model.json")
        return cls.from_json(path.read_text(encoding="utf-8"))

    def with_calibration(self, version: str, **values: float) -> Model:
        """This model with some calibration values changed, under a new version."""
        return replace(self, calibration=replace(self.calibration, **values), version=version)

"""Builds the demo scenario through the services, as field teams would.

An exit point like Baghouz's over 14 days: households register at the exit; adult men are
bussed to a screening point and from there to a camp (or to detention, recorded as a
location so that families can learn where they are held); women and children are trucked
to two camps a few hours away; severely malnourished children go to the field hospital.
A few people are dispatched and never checked in, a few arrive on the wrong truck, and some
families end up split: among them a mother in a camp with one twin while the other twin is
in the hospital, and a man in detention whose wife and children are in a camp. A boy of 16
who came out with no relative is registered on his own (no household) at the desk, and
trucked to camp A: a child apart from every adult relative who belongs to no household.

Everything a person would see (names, ages, households, movements) is drawn from one seeded
random generator, so a seed gives the same scenario every time; ids and registration
numbers are drawn fresh, as in the field. Dates end at the moment of building.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from corridor.demo.names import NamePart, pick, spelling_variant
from corridor.demo.tracing_story import build_enquiries
from corridor.schemas import (
    DispatchIn,
    HouseholdIn,
    LinkIn,
    ManifestIn,
    ManifestPersonsIn,
    PersonIn,
    ReceiveIn,
    SiteIn,
)
from corridor.security.crypto import MasterKey
from corridor.services import Services
from corridor.services.base import AuditHook
from corridor.storage import Database

TRUCK_SIZE = 45
SITES = {
    "exit": SiteIn(
        name="Baghouz exit point",
        kind="exit_point",
        pcode="SY09",
        locality="Al-Baghuz Fawqani",
        latitude=34.45,
        longitude=40.95,
        capacity=3000,
    ),
    "screening": SiteIn(
        name="Screening point", kind="screening", pcode="SY09", locality="Al-Bahra", capacity=2000
    ),
    "camp_a": SiteIn(
        name="Camp A (Al-Hol)",
        kind="camp",
        pcode="SY08",
        locality="Al-Hol",
        latitude=36.38,
        longitude=41.15,
        capacity=40000,
    ),
    "camp_b": SiteIn(
        name="Camp B (Roj)", kind="camp", pcode="SY08", locality="Al-Malikiyah", capacity=8000
    ),
    "hospital": SiteIn(
        name="Field hospital", kind="hospital", pcode="SY08", locality="Al-Hasakeh", capacity=150
    ),
    "detention": SiteIn(
        name="Hasakah detention facility", kind="detention", pcode="SY08", locality="Al-Hasakeh"
    ),
}
CONSENT = {"tracing": True, "share_with": ["ICRC", "UNICEF"]}
NO_TRACING = {"tracing": False, "share_with": []}


@dataclass
class Member:
    key: int
    relationship: str  # head, spouse, child, parent, sibling
    sex: str
    age: int
    names: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    person_id: str = ""
    tag: str = ""


@dataclass
class Household:
    members: list[Member]
    arrival: datetime
    destination: str  # camp_a or camp_b
    story: str = ""
    household_id: str = ""


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _latin(rng: random.Random | None, part: NamePart, variant_rate: float = 0.25) -> str:
    """The usual Latin spelling, or now and then another registrar's spelling."""
    if rng is not None and rng.random() < variant_rate:
        return spelling_variant(rng, part.latin)
    return part.latin


def _names(
    rng: random.Random | None,
    own: NamePart,
    father: NamePart,
    grandfather: NamePart,
    family: NamePart,
) -> dict[str, Any]:
    return {
        "given_name": _latin(rng, own),
        "father_name": _latin(rng, father),
        "grandfather_name": _latin(rng, grandfather),
        "family_name": _latin(rng, family, 0.4),
        "given_name_original": own.arabic,
        "father_name_original": father.arabic,
        "grandfather_name_original": grandfather.arabic,
        "family_name_original": family.arabic,
    }


class _Draw:
    """Draws households from one seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.key = 0

    def _member(self, relationship: str, sex: str, age: int, names: dict[str, Any]) -> Member:
        self.key += 1
        return Member(self.key, relationship, sex, age, names)

    def household(self, arrival: datetime) -> Household:
        rng = self.rng
        husband, husband_father, husband_grandfather = (pick(rng, "male") for _ in range(3))
        family = pick(rng, "family")
        wife = pick(rng, "female")
        wife_father, wife_grandfather, wife_family = (
            pick(rng, "male"),
            pick(rng, "male"),
            pick(rng, "family"),
        )
        wife_age = rng.randint(18, 48)
        members: list[Member] = []
        with_husband = rng.random() < 0.35
        wife_rel = "spouse" if with_husband else "head"
        if with_husband:
            members.append(
                self._member(
                    "head",
                    "m",
                    min(wife_age + rng.randint(0, 12), 75),
                    _names(rng, husband, husband_father, husband_grandfather, family),
                )
            )
        members.append(
            self._member(
                wife_rel,
                "f",
                wife_age,
                _names(rng, wife, wife_father, wife_grandfather, wife_family),
            )
        )
        n_children = min(max(0, round(rng.gauss(2.4, 1.5))), wife_age - 16, 8)
        age = rng.randint(0, 3)
        for _ in range(n_children):
            if age > 17 or age > wife_age - 15:
                break
            sex = rng.choice("mf")
            own = pick(rng, "male" if sex == "m" else "female")
            members.append(
                self._member("child", sex, age, _names(rng, own, husband, husband_father, family))
            )
            age += rng.randint(1, 3)
        if rng.random() < 0.12:
            grandmother = pick(rng, "female")
            members.append(
                self._member(
                    "parent",
                    "f",
                    min(wife_age + rng.randint(18, 30), 95),
                    _names(
                        rng, grandmother, pick(rng, "male"), pick(rng, "male"), pick(rng, "family")
                    ),
                )
            )
        if rng.random() < 0.08:
            sister = pick(rng, "female")
            members.append(
                self._member(
                    "sibling",
                    "f",
                    max(16, wife_age + rng.randint(-6, 6)),
                    _names(rng, sister, wife_father, wife_grandfather, wife_family),
                )
            )
        for m in members:
            self._vulnerabilities(m)
        if members[0].relationship != "head":
            members[0].relationship = "head"
        destination = "camp_a" if rng.random() < 0.75 else "camp_b"
        return Household(members, arrival, destination)

    def _vulnerabilities(self, m: Member) -> None:
        rng = self.rng
        v: dict[str, Any] = {}
        if m.age <= 4 and rng.random() < 0.9:
            v["muac_mm"] = max(80, min(160, round(rng.gauss(131, 10))))
            if rng.random() < 0.01:
                v["oedema"] = True
        if m.age >= 5 and rng.random() < 0.06:
            domain = rng.choice(
                ["seeing", "hearing", "walking", "remembering", "self_care", "communicating"]
            )
            v["washington_group"] = {domain: rng.choice([2, 3, 3, 4])}
        if m.sex == "f" and 18 <= m.age <= 45 and rng.random() < 0.15:
            v["pregnant_lactating"] = True
        if rng.random() < 0.05:
            v["injury"] = True
        if rng.random() < 0.02:
            v["serious_medical_condition"] = True
        m.extra["vulnerabilities"] = v
        if rng.random() < 0.3 and m.age >= 18:
            m.extra["documents"] = [
                {
                    "type": rng.choice(["national_id", "family_book"]),
                    "number": f"{rng.randint(10**7, 10**8 - 1)}",
                    "issuing_country": "SYR",
                }
            ]
        if rng.random() < 0.15 and m.age >= 18:
            m.extra["phone"] = f"+9639{rng.randint(10**7, 10**8 - 1)}"


def _sam(m: Member) -> bool:
    v = m.extra.get("vulnerabilities", {})
    return bool(v.get("oedema")) or (v.get("muac_mm") is not None and v["muac_mm"] < 115)


def _household_in(site_id: str, h: Household, rng: random.Random) -> HouseholdIn:
    def details(m: Member) -> dict[str, Any]:
        d: dict[str, Any] = {**m.names, "sex": m.sex, **m.extra}
        if rng.random() < 0.3:
            d["birth_date"] = str(h.arrival.year - m.age)
        else:
            d["estimated_age"] = m.age
        d["nationality"] = "SYR" if rng.random() < 0.7 else "IRQ"
        if d["nationality"] == "SYR":
            d["origin_pcode"] = rng.choice(["SY09", "SY09", "SY11", "SY08", "SY02"])
        d["languages"] = ["ar"]
        return d

    roll = rng.random()  # drawn for every household: a seed gives the same scenario
    consent = CONSENT if h.story or roll < 0.95 else NO_TRACING
    return HouseholdIn.model_validate(
        {
            "site_id": site_id,
            "consent": consent,
            "purpose": "registration, assistance and family tracing",
            "legal_basis": "vital_interest",
            "registered_at": h.arrival,
            "head": details(h.members[0]),
            "members": [{**details(m), "relationship": m.relationship} for m in h.members[1:]],
        }
    )


class _Builder:
    def __init__(
        self,
        services: Services,
        clock: Clock,
        rng: random.Random,
        end: datetime,
        sites: dict[str, str],
    ) -> None:
        self.svc = services
        self.clock = clock
        self.rng = rng
        self.end = end
        self.sites = sites
        self.unaccounted_left = 12
        self.discrepancies_left = 6
        self.counts = {"manifests": 0, "unaccounted": 0, "discrepancies": 0}

    def at(self, moment: datetime) -> datetime:
        """Clamp to the scenario's end and move the clock there."""
        moment = min(moment, self.end - timedelta(minutes=1))
        self.clock.now = max(self.clock.now, moment)
        return moment

    def truck(
        self,
        vehicle: str,
        frm: str,
        to: str,
        groups: list[tuple[list[str], str | None]],
        departs: datetime,
        hours: float,
        allow_losses: bool = True,
        diverted_to: str | None = None,
    ) -> str | None:
        """One manifest: create, fill (household groups), dispatch, check in, receive."""
        if not groups:
            return None
        self.at(departs)
        audit = demo_audit(self.svc, "manifest.write")
        m = self.svc.manifests.create(
            ManifestIn(vehicle=vehicle, from_site_id=self.sites[frm], to_site_id=self.sites[to]),
            audit=audit,
        )
        self.svc.manifests.add_groups(
            m["id"],
            [ManifestPersonsIn(person_ids=ids, separation_reason=reason) for ids, reason in groups],
            audit=audit,
        )
        self.svc.manifests.dispatch(m["id"], DispatchIn(departed_at=self.at(departs)), audit=audit)
        self.counts["manifests"] += 1
        arrive = departs + timedelta(hours=hours)
        if arrive >= self.end:
            return str(m["id"])  # still on the road when the demo ends
        everyone = [pid for ids, _ in groups for pid in ids]
        if allow_losses and self.unaccounted_left and self.rng.random() < 0.05:
            lost = self.rng.choice(everyone)
            everyone.remove(lost)
            self.unaccounted_left -= 1
            self.counts["unaccounted"] += 1
        arrived_at = self.at(arrive)
        self.svc.manifests.check_in_many(m["id"], everyone, arrived_at=arrived_at, audit=audit)
        self.svc.manifests.receive(m["id"], ReceiveIn(received_at=arrived_at), audit=audit)
        return str(m["id"])


def build_demo(
    db: Database,
    *,
    seed: int = 2019,
    households: int = 5000,
    days: int = 14,
    end: datetime | None = None,
    progress: Callable[[str], None] | None = None,
    master: MasterKey | None = None,
) -> dict[str, Any]:
    """Build the scenario into an empty, migrated database; returns a summary.

    ``progress``, when given, is called with one line per stage and per day built (the
    whole build takes about a minute for 5,000 households: ``corridor demo`` prints them).

    ``master`` seals phones, documents and notes (``corridor demo`` passes the demo's key
    file); without one a throwaway key is used, so the sealed fields of that build can
    never be read again (enough for a test of the figures)."""
    rng = random.Random(seed)
    end = (end or datetime.now(UTC)).replace(second=0, microsecond=0)
    start_day = (end - timedelta(days=days - 1)).replace(hour=0, minute=0)
    clock = Clock(start_day)
    svc = Services(db, clock, master or MasterKey.generate())
    admin = demo_audit(svc, "sites.admin")
    sites = {key: svc.sites.create(site, audit=admin)["id"] for key, site in SITES.items()}
    draw = _Draw(rng)

    # Arrivals come in waves after each bombardment.
    weights = [
        1.0 + 1.5 * (rng.random() ** 2) + (1.2 if d in (3, 4, 8, 9) else 0) for d in range(days)
    ]
    total_w = sum(weights)
    per_day = [int(households * w / total_w) for w in weights]
    per_day[-1] += households - sum(per_day)

    say = progress or (lambda _line: None)
    say(f"{len(sites)} sites created; registering {households} households over {days} days")
    builder = _Builder(svc, clock, rng, end, sites)
    pending_screened: list[tuple[Member, Household]] = []
    stories_done = False
    registered = 0
    alone: Household | None = None
    for day in range(days):
        day_start = start_day + timedelta(days=day)
        todays = []
        for _ in range(per_day[day]):
            arrival = day_start + timedelta(hours=6, minutes=rng.randint(0, 11 * 60))
            if arrival >= end:
                arrival = end - timedelta(minutes=rng.randint(2, 120))
            todays.append(draw.household(arrival))
        if not stories_done and day == days // 2:
            todays.extend(_story_households(draw, day_start + timedelta(hours=7)))
            alone = _story_alone(draw, day_start + timedelta(hours=8))
            stories_done = True
        builder.at(day_start + timedelta(hours=18))
        for i in range(0, len(todays), 200):
            batch = todays[i : i + 200]
            ids = svc.registration.register_households(
                [_household_in(sites["exit"], h, rng) for h in batch],
                audit=demo_audit(svc, "person.write"),
            )
            for h, stored in zip(batch, ids, strict=True):
                h.household_id = stored["id"]
                for m, p in zip(h.members, stored["members"], strict=True):
                    m.person_id = p["id"]
        registered += len(todays)
        if alone is not None:  # registered on his own, then on a truck like the others
            _register_alone(svc, sites["exit"], alone)
            todays.append(alone)
            alone = None
        _link_story_twins(svc, todays)
        # Yesterday's screened men move on (to a camp, or to detention).
        _after_screening(builder, pending_screened, day_start + timedelta(hours=9))
        pending_screened = []
        if day < days - 1:  # the last day's arrivals are still at the exit point
            pending_screened = _dispatch_day(builder, todays, day_start)
        say(
            f"day {day + 1} of {days}: {len(todays)} households registered "
            f"({registered} in all), {builder.counts['manifests']} trucks so far"
        )
    say("counting the figures")
    summary = {
        "sites": len(sites),
        "households": households + 3,
        "persons": _count_persons(db),
        "manifests": builder.counts["manifests"],
        "unaccounted (dispatched, not checked in)": len(svc.manifests.unaccounted()),
        "discrepancies (arrived on the wrong truck)": builder.counts["discrepancies"],
        "separated families": len(svc.figures.separated_families()),
    }
    clock.now = end
    say("recording the tracing enquiries (each one is matched against everyone)")
    summary.update(build_enquiries(svc))
    return summary


def _dispatch_day(
    b: _Builder, todays: list[Household], day_start: datetime
) -> list[tuple[Member, Household]]:
    """Men to screening; sick children to hospital; the rest by household to the camps."""
    to_screening: list[tuple[list[str], str | None]] = []
    screened: list[tuple[Member, Household]] = []
    to_hospital: list[tuple[list[str], str | None]] = []
    to_camp: dict[str, list[tuple[list[str], str | None]]] = {"camp_a": [], "camp_b": []}
    for h in todays:
        staying = []
        for m in h.members:
            if m.sex == "m" and m.age >= 18:
                to_screening.append(([m.person_id], "adult men are screened separately"))
                screened.append((m, h))
            elif m.tag == "sick_twin" or (m.age <= 4 and _sam(m) and b.rng.random() < 0.6):
                to_hospital.append(
                    ([m.person_id], "medical evacuation (severe acute malnutrition)")
                )
            else:
                staying.append(m)
        if staying:
            split = len(staying) < len(h.members)
            reason = "other members screened or evacuated" if split else None
            to_camp[h.destination].append(([m.person_id for m in staying], reason))
    t = day_start + timedelta(hours=19)
    for n, chunk in enumerate(_chunks(to_screening, TRUCK_SIZE)):
        b.truck(f"Screening bus {n + 1}", "exit", "screening", chunk, t, 1.0, allow_losses=False)
    for n, chunk in enumerate(_chunks(to_hospital, 8)):
        b.truck(f"Ambulance {n + 1}", "exit", "hospital", chunk, t, 3.0, allow_losses=False)
    for camp, groups in to_camp.items():
        for n, chunk in enumerate(_chunks(groups, TRUCK_SIZE)):
            b.truck(
                f"Truck {camp[-1].upper()}{n + 1}",
                "exit",
                camp,
                chunk,
                t + timedelta(minutes=20 * n),
                4.5,
            )
    _divert_one(b, todays, day_start)
    return screened


def _divert_one(b: _Builder, todays: list[Household], day_start: datetime) -> None:
    """Now and then a family bound for camp B climbs off at camp A: a discrepancy."""
    if not b.discrepancies_left or b.rng.random() > 0.5:
        return
    from corridor.schemas import CheckInIn

    for h in todays:
        if h.destination == "camp_b" and not h.story:
            loc = b.svc.registration.get_person(h.members[-1].person_id)["location"]
            if loc["state"] != "present" or loc["site_id"] != b.sites["camp_b"]:
                continue
            truck = b.svc.manifests.find(site_id=b.sites["camp_a"], status="received")
            if not truck:
                return
            # She was checked in at camp B by mistake; the correction is camp A's check-in.
            b.at(day_start + timedelta(hours=23, minutes=30))
            b.svc.manifests.check_in(
                truck[0]["id"],
                CheckInIn(person_id=h.members[-1].person_id),
                audit=demo_audit(b.svc, "manifest.write"),
            )
            b.discrepancies_left -= 1
            b.counts["discrepancies"] += 1
            return


def _after_screening(b: _Builder, screened: list[tuple[Member, Household]], t: datetime) -> None:
    to_detention: list[tuple[list[str], str | None]] = []
    to_camp: dict[str, list[tuple[list[str], str | None]]] = {"camp_a": [], "camp_b": []}
    for m, h in screened:
        if h.story == "detained" or b.rng.random() < 0.15:
            to_detention.append(([m.person_id], None))
        elif b.rng.random() < 0.9:
            to_camp[h.destination].append(([m.person_id], None))
        # else: still held at the screening point
    for n, chunk in enumerate(_chunks(to_detention, TRUCK_SIZE)):
        b.truck(
            f"Detention transfer {n + 1}",
            "screening",
            "detention",
            chunk,
            t,
            2.0,
            allow_losses=False,
        )
    for camp, groups in to_camp.items():
        for n, chunk in enumerate(_chunks(groups, TRUCK_SIZE)):
            b.truck(f"Bus {camp[-1].upper()}{n + 1}", "screening", camp, chunk, t, 4.0)


def _story_households(draw: _Draw, arrival: datetime) -> list[Household]:
    """The two families DOMAIN.md tells of, with names a tracing officer can look up."""
    from corridor.demo.names import name_parts

    parts = {p.latin: p for kind in name_parts().values() for p in kind}

    def n(own: str, father: str, grandfather: str, family: str) -> dict[str, Any]:
        return _names(None, parts[own], parts[father], parts[grandfather], parts[family])

    twins = Household(
        [
            draw._member("head", "f", 27, n("Maryam", "Khaled", "Omar", "al-Ali")),
            draw._member("child", "m", 0, n("Hassan", "Ahmed", "Ibrahim", "al-Khalaf")),
            draw._member("child", "m", 0, n("Hussein", "Ahmed", "Ibrahim", "al-Khalaf")),
            draw._member("child", "f", 4, n("Zainab", "Ahmed", "Ibrahim", "al-Khalaf")),
        ],
        arrival,
        "camp_a",
        story="twins",
    )
    twins.members[1].extra = {"vulnerabilities": {"muac_mm": 98}, "note": "six months old, 3 kg"}
    twins.members[1].tag = "sick_twin"
    twins.members[2].extra = {"vulnerabilities": {"muac_mm": 118}}
    twins.members[3].extra = {"vulnerabilities": {"muac_mm": 126}}
    twins.members[0].extra = {"vulnerabilities": {"pregnant_lactating": True}}
    detained = Household(
        [
            draw._member("head", "m", 34, n("Abdullah", "Youssef", "Hamid", "al-Jabouri")),
            draw._member("spouse", "f", 29, n("Aisha", "Mahmoud", "Saleh", "al-Obeidi")),
            draw._member("child", "m", 9, n("Youssef", "Abdullah", "Youssef", "al-Jabouri")),
            draw._member("child", "f", 6, n("Fatima", "Abdullah", "Youssef", "al-Jabouri")),
            draw._member("child", "f", 2, n("Amina", "Abdullah", "Youssef", "al-Jabouri")),
        ],
        arrival,
        "camp_a",
        story="detained",
    )
    # A boy who lost his mother in the crowd at the exit: registered alone, as a
    # separated child, with his mother's name; she enquires from Turkey (tracing_story).
    separated = Household(
        [draw._member("head", "m", 12, n("Hussein", "Ibrahim", "Khaled", "al-Ali"))],
        arrival,
        "camp_b",
        story="separated",
    )
    separated.members[0].extra = {
        "vulnerabilities": {"uasc": "separated"},
        "mother_name": "Zainab Hamid",
    }
    return [twins, detained, separated]


def _story_alone(draw: _Draw, arrival: datetime) -> Household:
    """An unaccompanied boy of 16, registered on his own at the desk (no household: he
    came out with no relative), bound for camp A."""
    from corridor.demo.names import name_parts

    parts = {p.latin: p for kind in name_parts().values() for p in kind}
    names = _names(None, parts["Bilal"], parts["Walid"], parts["Saleh"], parts["al-Issa"])
    boy = draw._member("head", "m", 16, names)
    boy.extra = {"vulnerabilities": {"uasc": "unaccompanied"}}
    return Household([boy], arrival, "camp_a", story="alone")


def _register_alone(svc: Services, site_id: str, h: Household) -> None:
    """Registers the one member of ``h`` as a person of no household (with no random
    draw of its own: the same seed gives the same scenario)."""
    [m] = h.members
    person = PersonIn.model_validate(
        {
            **m.names,
            "sex": m.sex,
            "estimated_age": m.age,
            **m.extra,
            "nationality": "SYR",
            "languages": ["ar"],
            "site_id": site_id,
            "consent": CONSENT,
            "purpose": "registration, assistance and family tracing",
            "legal_basis": "vital_interest",
            "registered_at": h.arrival,
        }
    )
    [m.person_id] = svc.registration.register_many([person], audit=demo_audit(svc, "person.write"))


def demo_audit(svc: Services, action: str) -> AuditHook:
    """The demo's writes are audited as any other, under the operator ``demo``."""
    return svc.audit.operator_hook("demo", action, "demo data")


def _link_story_twins(svc: Services, todays: list[Household]) -> None:
    for h in todays:
        if h.story == "twins":
            a, b = h.members[1].person_id, h.members[2].person_id
            link = LinkIn(person_id=a, other_person_id=b, kind="twin")
            svc.registration.link(link, audit=demo_audit(svc, "person.write"))


def _chunks(
    groups: list[tuple[list[str], str | None]], size: int
) -> list[list[tuple[list[str], str | None]]]:
    """Fill trucks with whole groups (households stay together)."""
    out: list[list[tuple[list[str], str | None]]] = []
    current: list[tuple[list[str], str | None]] = []
    filled = 0
    for g in groups:
        if current and filled + len(g[0]) > size:
            out.append(current)
            current, filled = [], 0
        current.append(g)
        filled += len(g[0])
    if current:
        out.append(current)
    return out


def _count_persons(db: Database) -> int:
    from sqlalchemy import func, select

    from corridor.storage.tables import persons

    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(persons)).scalar_one())

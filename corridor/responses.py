"""What the API answers that is not personal data: sites, figures, users, sessions and
tokens, bulk exports' metadata, import reports.

Each route declares one of these (or a read model of corridor/services/protection/read_models.py
for personal data) as its response, so the OpenAPI document describes every success
answer. Like the read models they forbid unknown keys: a service that starts returning
a field nobody declared fails loudly (a 500 in the tests) instead of sending it out.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from corridor.services.health import Status
from corridor.services.protection.read_models import ReadModel, Sentence

# -- sites and users --------------------------------------------------------------------


class Site(ReadModel):
    """A site. A detention site's name is a neutral label, and its P-code, locality and
    coordinates are null, except to the roles allowed to see detention sites."""

    id: str
    name: str
    kind: str
    pcode: str | None
    locality: str | None
    latitude: float | None
    longitude: float | None
    capacity: int | None
    closed_at: datetime | None = Field(
        default=None, description="When an administrator closed the site (null: open)"
    )


class UserSites(ReadModel):
    """The sites a user works at (their person queries are confined to them)."""

    user_id: str
    site_ids: list[str]


class User(ReadModel):
    """A user as the administrator sees them (no password, no secret, no person)."""

    id: str
    username: str
    display_name: str
    roles: list[str]
    site_ids: list[str]
    language: str | None
    disabled: bool
    second_factor_enrolled: bool = Field(description="A TOTP secret is set up")
    password_expired: bool = Field(
        description="Signs in with a one-time password an administrator set, and must "
        "change it before anything else"
    )
    failed_logins: int = Field(description="Failed sign-ins since the last successful one")
    locked_until: datetime | None = Field(
        description="Locked after 30 failed sign-ins in a day, until then (or an unlock)"
    )
    live_sessions: int = Field(description="Sessions signed in and not timed out")
    created_at: datetime


class Enrolment(ReadModel):
    """A user and, where a new TOTP secret was made, the secret and its ``otpauth://``
    URI for an authenticator app. Shown once: Corridor keeps the secret sealed and never
    shows it again."""

    user: User
    totp_secret: str | None
    totp_uri: str | None
    sessions_ended: int | None = Field(
        default=None, description="A second factor's reset: the user's sessions it ended"
    )
    tokens_revoked: int | None = Field(
        default=None, description="A second factor's reset: the user's API tokens it revoked"
    )


class PasswordReset(ReadModel):
    """A forgotten password replaced by a one-time one: the user changes it at their next
    sign-in before anything else. ``password`` is the one Corridor made, shown once
    (null when the administrator gave one, or in a replay)."""

    user: User
    password: str | None
    sessions_ended: int | None
    tokens_revoked: int | None


class PasswordChanged(ReadModel):
    """Your new password is set: this session stays, your other sessions and every API
    token of yours ended."""

    sessions_ended: int
    tokens_revoked: int


class SessionsEnded(ReadModel):
    user_id: str
    sessions_ended: int


class ApiToken(ReadModel):
    """An API token's metadata (the token itself was shown once, at issue)."""

    id: str
    name: str
    user_id: str
    username: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


# -- figures ----------------------------------------------------------------------------


class Counts(ReadModel):
    """Persons counted by sex (``f``, ``m``, ``unknown``), by age bracket (``0-4`` ...
    ``60+``, ``unknown``) and by both."""

    total: int | None
    by_sex: dict[str, int | None]
    by_bracket: dict[str, int | None]
    by_sex_bracket: dict[str, dict[str, int | None]]


class PresentCounts(Counts):
    """Persons at the site now, also by location state."""

    by_state: dict[str, int | None]


class VulnerabilityCounts(ReadModel):
    """Persons at the site now with each vulnerability."""

    unaccompanied: int | None
    separated: int | None
    sam: int | None
    mam: int | None
    disabled: int | None
    pregnant_lactating: int | None
    serious_medical_condition: int | None
    injury: int | None
    elderly_alone: int | None
    restricted_below: int | None = Field(
        default=None,
        description="Set where the figures are exact but some of these counts are derived "
        "from a detail the caller's roles may not see on a record (malnutrition, disability, "
        "pregnancy, a serious medical condition or injury for a role outside the medical "
        "group; unaccompanied or separated for one that may not see minors' details): those "
        "counts are read as aggregates only (null under this number, the others rounded to "
        "its nearest multiple)",
    )


class DayFigures(ReadModel):
    """One day at the site: ``present_at_end`` is always ``present_at_start`` plus
    arrivals minus departures minus duplicates, and the next day's ``present_at_start``.
    Whatever moved a person (a manifest, a transfer, a hospitalisation, a detention, a
    check-in off the manifest, a death) counts as a departure from where they were and an
    arrival where they went."""

    date: date
    present_at_start: int | None
    arrivals: Counts
    departures: Counts
    duplicates: Counts = Field(
        description="Persons counted here until found to be one person with someone "
        "registered later at another site (a merge): a duplicate resolved, nobody leaving; "
        "the later registration stays the arrival it was there"
    )
    present_at_end: int | None


class SiteFigures(ReadModel):
    """A site's figures: present now, arrivals and departures per day, vulnerabilities."""

    site: Site
    as_of: datetime
    present: PresentCounts
    vulnerabilities_present: VulnerabilityCounts
    children_alone: int | None = Field(
        description="Children at the site now apart from every adult relative (the children "
        "the separated-families page marks 'alone')"
    )
    children_alone_in_transit: int | None = Field(
        description="Children apart from every adult relative on a truck on the road to the "
        "site: counted at no site while travelling, here until checked in (then among "
        "children_alone where they arrive)"
    )
    from_: date = Field(alias="from")
    to: date
    daily: list[DayFigures]
    suppressed_below: int | None = Field(
        description="Set where the caller reads these figures as aggregates only (a role that "
        "may not read the site's persons; a detention facility's, for a role that may not see "
        "detention sites): every count from 1 to this number minus one is null, and one more "
        "where a sum would give it away (a null count's breakdown is null whole); every other "
        "count is rounded to the nearest multiple of this number, so that no comparison of "
        "two answers gives a null count away. Null: the counts are exact."
    )


# -- authentication ---------------------------------------------------------------------


class LoginResult(ReadModel):
    """Whether the session still needs the second factor (TOTP code)."""

    second_factor_required: bool
    password_change_required: bool = Field(
        default=False,
        description="Signed in with a one-time password: change it (POST /api/auth/password) "
        "before anything else",
    )


class LoggedOut(ReadModel):
    logged_out: bool


class IssuedToken(ReadModel):
    """An API token, shown once: only its hash is kept."""

    id: str
    token: str | None = Field(
        description="The token, shown once; null in the replay of a request sent again "
        "with its Idempotency-Key (revoke the token and ask for another if it was lost)"
    )
    scopes: list[str]


class Me(ReadModel):
    """Who is calling: their roles, sites, and whether they gave the second factor."""

    user_id: str
    roles: list[str]
    site_ids: list[str]
    second_factor: bool


# -- exchange ---------------------------------------------------------------------------


class Export(ReadModel):
    """A bulk export: who asked, why, for which sites, in which format, and where it
    stands (``pending``, ``approved``, ``downloaded``); ``persons``: how many were in it,
    once downloaded."""

    id: str
    requested_by: str
    reason: str
    format: str
    site_ids: list[str]
    state: str
    created_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    downloaded_at: datetime | None
    persons: int | None
    selection: dict[str, object] | None = Field(
        default=None, description="Only the persons of this list, by its filter (null: all)"
    )
    selection_text: Sentence = Field(
        default="every person of the sites", description="The selection in words"
    )


class ImportProblem(ReadModel):
    """A problem with a record of an imported file (``line`` null: the whole file)."""

    line: int | None
    field: str | None
    reason: Sentence
    fatal: bool


class SuspectedDuplicate(ReadModel):
    """A new person of the file that the registry probably holds already."""

    line: int | None
    member: str | None = Field(description="head, members[i], or null for a single person")
    person_id: str
    registration_number: str
    probability: float


class ImportReport(ReadModel):
    """What an import did (or, on a dry run, would do)."""

    source: str
    dry_run: bool
    written: bool
    created: int
    updated: int
    unchanged: int
    skipped: int
    expired: int
    notes: int
    suspected_duplicates: list[SuspectedDuplicate]
    problems: list[ImportProblem]
    person_ids: list[str]
    queued_pairs: int = Field(
        default=0,
        description="Suspected duplicates newly queued for review (GET /api/duplicates); "
        "pairs queued before or kept apart by an officer are not queued again",
    )


__all__ = [
    "Counts",
    "DayFigures",
    "Export",
    "ImportProblem",
    "ImportReport",
    "IssuedToken",
    "LoggedOut",
    "LoginResult",
    "Me",
    "PresentCounts",
    "Site",
    "SiteFigures",
    "SuspectedDuplicate",
    "UserSites",
    "VulnerabilityCounts",
]


# -- operations -------------------------------------------------------------------------


class Health(ReadModel):
    """Whether this server can work (no account needed, no personal data): ``status`` is
    ``ok`` (200), ``database_unreachable`` or ``schema_not_current`` (503: the database
    is not at the schema revision this code was written for; run ``corridor db
    upgrade``). ``read_only``: the server was started read-only, or the database refuses
    writes (a PostgreSQL standby, a SQLite file this process may not write)."""

    status: Status
    database_reachable: bool
    schema_current: bool
    read_only: bool


# -- site nodes (issue 16, docs/sync.md) -------------------------------------------------


class SyncPushed(ReadModel):
    """What a push did at the central (``POST /api/sync/push``): counts of the bundle's
    changes, and what the central now holds of each origin the bundle covers (its
    high-water mark: every number up to it is here). No person is named."""

    from_node: str
    applied: int = Field(description="Changes applied now")
    waiting: int = Field(description="Changes here that wait for what they depend on")
    conflicts: int = Field(description="Changes applied with a conflict kept for review")
    already_had: int = Field(description="Changes of the bundle held already (a replay)")
    already_applied: bool = Field(description="The bundle held no change new here")
    acknowledged: dict[str, int] = Field(
        description="Per origin node: the highest change number held here, all before it too"
    )


class SyncPeer(ReadModel):
    """A node's central, or a central's node, as this installation knows it."""

    id: str
    role: str | None
    status: str
    site_id: str | None
    last_contact_at: datetime | None
    wiped_at: datetime | None = Field(
        None, description="At the central: when the node's wipe order was delivered"
    )
    name: str | None = Field(None, description="The node's human name (given at its init)")
    wipe_ordered_at: datetime | None = Field(
        None, description="At the central: when the node's wipe was ordered"
    )
    wipe_confirmed_at: datetime | None = Field(
        None, description="At the central: when the node's signed confirmation arrived"
    )
    wipe_carried_out_at: datetime | None = Field(
        None, description="When the node says it carried the wipe out (its signed report)"
    )
    wipe_keys_destroyed: int | None = Field(
        None, description="Site keys the node says it destroyed in the wipe"
    )
    wipe_persons_anonymised: int | None = Field(
        None, description="Persons the node says it anonymised in the wipe"
    )
    wipe_unsent: int | None = Field(
        None, description="Changes made at the node that never reached the central"
    )
    unsent: int | None = Field(
        description="Changes the peer has not acknowledged (to send); null: a small count "
        "withheld (``suppressed_below``)"
    )
    to_receive: int | None = Field(
        description="Changes the peer said it made that have not arrived here (known at "
        "the central for each node; null at a node)"
    )
    withdrawn: int | None = Field(
        None,
        description="At a node, of its central: changes made here that the central has "
        "not received yet whose movements the central's forget took out of this node's "
        "log (kept, sent at the next sync, decided at the central); null elsewhere or a "
        "small count withheld",
    )


class SyncStatus(ReadModel):
    """This installation's sync state (no person named): its identity, changes made
    here, changes waiting for what they depend on, conflicts to review, and its peers
    (the sites the caller may see)."""

    node_id: str
    role: str
    status: str
    site_id: str | None
    last_seq: int | None = Field(
        description="Changes made here (this installation's own numbers)"
    )
    wiped_at: datetime | None = Field(
        None, description="At a node: when it carried out its central's wipe order"
    )
    revoked_at: datetime | None = Field(
        None,
        description="At a node: when its central last refused it as revoked (its changes "
        "not sent are kept here; the central's administrator can reinstate it)",
    )
    name: str | None = Field(None, description="This node's human name (given at its init)")
    fingerprint: str | None = Field(description="This installation's signing key, as checked")
    waiting: int | None
    conflicts: int | None = Field(
        description="Open conflicts of corrections (the registrars' review queue, /sync/conflicts)"
    )
    held_erasures: int | None = Field(
        0,
        description="Erasures received for persons on legal hold here, the data "
        "protection officer's to decide (/sync/holds); not among the conflicts",
    )
    peers: list[SyncPeer]
    suppressed_below: int | None = Field(
        None,
        description="Read as aggregates only (as a site's figures: a coordinator; a site "
        "whose persons the caller may not read), the counts from 1 to this number less one "
        "are null (each counts persons or their changes); null: every count exact",
    )

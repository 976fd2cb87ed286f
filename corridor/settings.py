"""Settings, declared once: (name, default, help) feeds the CLI, the docs and validation."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from corridor.matching import Model
    from corridor.security.crypto import MasterKey
    from corridor.security.roles import AuthorisationMatrix
    from corridor.services.protection.retention import Category

DEFAULT_DB_PATH = Path("corridor.db")
# Distinct persons one user may look up in an hour, by role (PROTECTION.md line 14; the
# reasons are in docs/security.md). A role not named here gets 200; a user with several
# roles gets the largest of theirs.
DEFAULT_LOOKUPS_PER_HOUR: dict[str, int] = {
    "registrar": 600,
    "health": 600,
    "movement_officer": 400,
    "protection_officer": 300,
    "site_manager": 300,
    "tracing_officer": 120,
}
_BOOL = {"1": True, "true": True, "yes": True, "on": True,
         "0": False, "false": False, "no": False, "off": False}  # fmt: skip


def default_database_url() -> str:
    return f"sqlite:///{DEFAULT_DB_PATH}"


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to start. Build with ``Settings.from_env()`` or directly."""

    database_url: str = ""
    instance_domain: str = "corridor.local"
    master_key_file: str = ""
    master_key: str = field(default="", repr=False)
    tracing_checks: str = "background"
    biometrics_enabled: bool = False
    authorisation_file: str = ""
    retention_file: str = ""
    matching_model_file: str = ""
    read_only: bool = False
    max_body_bytes: int = 1_000_000
    max_upload_bytes: int = 200_000_000
    travel_hours: float = 12.0
    # An administrator's one-time password (a reset) signs in for this many hours after
    # it was set; then the user asks for a new reset.
    one_time_password_hours: float = 72.0
    # Site-node sync (issue 16): a pull request made further than this from the central's
    # clock is refused; a pull's answer carries at most this many changes.
    sync_pull_window_hours: float = 48.0
    sync_pull_max_changes: int = 2000
    # ... and at most this many bytes (a bundle in parts of bounded size; issue 16).
    sync_pull_max_bytes: int = 32_000_000
    # A site node syncing by itself every so many seconds (0: off; issue 16).
    sync_interval_s: float = 0.0
    # role -> persons an hour; from the environment ``registrar=600,health=800``, which
    # changes the roles it names and keeps the others' defaults.
    lookups_per_hour: Mapping[str, int] = field(
        default_factory=lambda: dict(DEFAULT_LOOKUPS_PER_HOUR)
    )
    # Figures read as aggregates only (outside roles, a detention facility's, the HXL
    # report): counts from 1 to this minus one are withheld, the others rounded to the
    # nearest multiple of it (corridor/domain/disclosure.py).
    small_counts_below: int = 5

    def __post_init__(self) -> None:
        if self.tracing_checks not in ("background", "inline"):
            raise ValueError("tracing_checks must be 'background' or 'inline'")
        if not self.database_url:
            object.__setattr__(self, "database_url", default_database_url())
        for name in ("biometrics_enabled", "read_only"):
            flag = getattr(self, name)
            if isinstance(flag, str):  # from the environment
                if flag.strip().lower() not in _BOOL:
                    raise ValueError(f"CORRIDOR_{name.upper()} must be true or false")
                object.__setattr__(self, name, _BOOL[flag.strip().lower()])
        for name in ("max_body_bytes", "max_upload_bytes"):
            limit = getattr(self, name)
            if isinstance(limit, str):  # from the environment
                if not limit.strip().isdigit():
                    raise ValueError(f"CORRIDOR_{name.upper()} must be a number of bytes")
                object.__setattr__(self, name, int(limit))
            if getattr(self, name) < 1024:
                raise ValueError(f"{name} must be at least 1024")
        hours = self.travel_hours
        try:
            hours = float(hours)
        except ValueError:
            raise ValueError("CORRIDOR_TRAVEL_HOURS must be a number of hours") from None
        if not 0 < hours <= 24 * 14:
            raise ValueError("travel_hours must be more than 0 and at most 336 (14 days)")
        object.__setattr__(self, "travel_hours", hours)
        try:
            one_time = float(self.one_time_password_hours)
        except ValueError:
            raise ValueError("CORRIDOR_ONE_TIME_PASSWORD_HOURS must be a number of hours") from None
        if not 1 <= one_time <= 24 * 30:
            raise ValueError("one_time_password_hours must be 1 to 720 (30 days)")
        object.__setattr__(self, "one_time_password_hours", one_time)
        try:
            interval = float(self.sync_interval_s)
        except ValueError:
            raise ValueError("CORRIDOR_SYNC_INTERVAL_S must be a number of seconds") from None
        if interval != 0 and not 10 <= interval <= 86400:
            raise ValueError("sync_interval_s must be 0 (off) or between 10 and 86400 seconds")
        object.__setattr__(self, "sync_interval_s", interval)
        object.__setattr__(self, "lookups_per_hour", _lookups(self.lookups_per_hour))
        below = str(self.small_counts_below).strip()
        if not below.isdigit() or not 2 <= int(below) <= 100:
            raise ValueError("CORRIDOR_SMALL_COUNTS_BELOW must be a whole number from 2 to 100")
        object.__setattr__(self, "small_counts_below", int(below))
        try:
            window = float(self.sync_pull_window_hours)
            most = int(self.sync_pull_max_changes)
        except ValueError:
            raise ValueError(
                "CORRIDOR_SYNC_PULL_WINDOW_HOURS must be a number of hours and "
                "CORRIDOR_SYNC_PULL_MAX_CHANGES a whole number"
            ) from None
        if not 1 <= window <= 24 * 30 or most < 1:
            raise ValueError(
                "sync_pull_window_hours must be 1 to 720 and sync_pull_max_changes at least 1"
            )
        object.__setattr__(self, "sync_pull_window_hours", window)
        object.__setattr__(self, "sync_pull_max_changes", most)
        most_bytes = str(self.sync_pull_max_bytes).strip()
        if not most_bytes.isdigit() or int(most_bytes) < 65536:
            raise ValueError(
                "CORRIDOR_SYNC_PULL_MAX_BYTES must be a number of bytes, at least 65536"
            )
        object.__setattr__(self, "sync_pull_max_bytes", int(most_bytes))

    def load_master_key(self) -> MasterKey:
        """The master key from the file or the variable (exactly one must be set)."""
        from corridor.security.crypto import load_master_key

        return load_master_key(
            Path(self.master_key_file) if self.master_key_file else None,
            self.master_key or None,
        )

    def authorisation(self) -> AuthorisationMatrix:
        """The authorisation matrix: the file's, checked, or the shipped one."""
        from corridor.security.roles import default_matrix, load_matrix

        return (
            load_matrix(Path(self.authorisation_file))
            if self.authorisation_file
            else (default_matrix())
        )

    def retention(self) -> dict[str, Category]:
        """The retention periods: the file's, checked, or the shipped ones."""
        from corridor.services.protection.retention import load_policy, policy

        return load_policy(Path(self.retention_file)) if self.retention_file else policy()

    def matching_model(self) -> Model | None:
        """The matching model: the file's (``corridor-match-model/1``), or None for the
        shipped one."""
        from corridor.matching import Model

        if not self.matching_model_file:
            return None
        return Model.from_json(Path(self.matching_model_file).read_text(encoding="utf-8"))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: str) -> Settings:
        """Read ``CORRIDOR_<NAME>`` variables; explicit overrides win."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = f"CORRIDOR_{f.name.upper()}"
            if key in env and env[key]:
                values[f.name] = env[key]
        values.update({k: v for k, v in overrides.items() if v})
        return cls(**values)


def _lookups(value: Mapping[str, int] | str) -> dict[str, int]:
    """The per-role lookup limits: a mapping, or ``role=n,role=n`` (over the defaults)."""
    if isinstance(value, str):
        out = dict(DEFAULT_LOOKUPS_PER_HOUR)
        for part in filter(None, (p.strip() for p in value.split(","))):
            role, _, number = part.partition("=")
            if not role.strip() or not number.strip().isdigit():
                raise ValueError(
                    f"CORRIDOR_LOOKUPS_PER_HOUR must read role=number,role=number (not {part!r})"
                )
            out[role.strip()] = int(number)
        value = out
    from corridor.security.roles import Role

    limits = dict(value)
    unknown = sorted(set(limits) - {r.value for r in Role})
    if unknown:
        raise ValueError(f"lookups_per_hour names unknown roles: {', '.join(unknown)}")
    for role, n in limits.items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"lookups_per_hour[{role!r}] must be a whole number above 0")
    return limits


SETTINGS_HELP: dict[str, str] = {
    "database_url": "SQLAlchemy URL of the database (default: SQLite file corridor.db); "
    "env CORRIDOR_DATABASE_URL",
    "instance_domain": "Domain naming this instance in exported record ids; "
    "env CORRIDOR_INSTANCE_DOMAIN",
    "master_key_file": "File holding the master key that seals TOTP secrets and site keys "
    "(never in the database); env CORRIDOR_MASTER_KEY_FILE",
    "master_key": "The master key itself, instead of a file; env CORRIDOR_MASTER_KEY "
    "(never printed)",
    "tracing_checks": "'background' (default: new registrations and arrivals are checked "
    "against open enquiries, and a desk's registrations against the registry for "
    "duplicates, on worker threads, within about a second) or 'inline' (before the request "
    "answers); env CORRIDOR_TRACING_CHECKS",
    "biometrics_enabled": "Accept a biometric reference (an id from a biometric system, "
    "never an image) on persons; off by default; env CORRIDOR_BIOMETRICS_ENABLED",
    "authorisation_file": "A JSON file replacing the shipped authorisation matrix (roles, "
    "actions, scopes, field groups; checked at start); env CORRIDOR_AUTHORISATION_FILE",
    "retention_file": "A JSON file replacing the shipped retention periods (checked at "
    "start); env CORRIDOR_RETENTION_FILE",
    "read_only": "Open the database read-only (a copy, or a database folder that cannot be "
    "written): pages and the API can be read; every write answers 503 'read-only copy'; "
    "`corridor serve --read-only`; env CORRIDOR_READ_ONLY",
    "max_body_bytes": "The largest request body accepted (JSON, forms), in bytes (default "
    "1,000,000; a larger one answers 413); env CORRIDOR_MAX_BODY_BYTES",
    "max_upload_bytes": "The largest file upload accepted (imports), in bytes (default "
    "200,000,000; a larger one answers 413); env CORRIDOR_MAX_UPLOAD_BYTES",
    "travel_hours": "Hours a manifest's vehicle is expected to take by default (12): until "
    "its expected arrival a person not checked in is 'in transit', after it 'unaccounted "
    "for'; the dispatching officer may set another time; env CORRIDOR_TRAVEL_HOURS",
    "one_time_password_hours": "Hours an administrator's one-time password (a reset) "
    "signs in for after it was set (default 72, 1 to 720); later it is refused with the "
    "advice to ask for a new reset; env CORRIDOR_ONE_TIME_PASSWORD_HOURS",
    "sync_pull_window_hours": "A site node's pull request made more than this many hours "
    "from the central's clock, either way, is refused as stale or replayed, and movements "
    "received stamped further ahead of this installation's clock are held for review "
    "(default 48: a node's clock may be hours off); env CORRIDOR_SYNC_PULL_WINDOW_HOURS",
    "sync_pull_max_changes": "The most changes one answer to a site node's pull carries "
    "(default 2000); the node pulls again until nothing is left; env "
    "CORRIDOR_SYNC_PULL_MAX_CHANGES",
    "sync_pull_max_bytes": "The most bytes one answer to a site node's pull takes (default "
    "32,000,000, at least 65,536); fewer changes are sent and the node pulls again; env "
    "CORRIDOR_SYNC_PULL_MAX_BYTES",
    "lookups_per_hour": "Distinct persons one user may look up in an hour, by role, as "
    "role=number pairs over the defaults (registrar 600, health 600, movement_officer 400, "
    "protection_officer 300, site_manager 300, tracing_officer 120, any other role 200); "
    "the next look-up waits and alerts the data protection officer; env "
    "CORRIDOR_LOOKUPS_PER_HOUR",
    "sync_interval_s": "A site node syncs with its central by itself every so many seconds "
    "(a round of `corridor node sync`; a failure is logged and tried again at the next "
    "interval); 0, the default, is off; env CORRIDOR_SYNC_INTERVAL_S",
    "small_counts_below": "Figures read as aggregates only (a role that may not read the "
    "site's persons, such as a coordinator; a detention facility's figures for a role "
    "without the detention field group; the HXL report) withhold every count from 1 to "
    "this number minus one (default 5: counts under 5), and one more cell where a sum "
    "would give a withheld one away, and round every other count to the nearest multiple "
    "of it (no difference of two figures is a withheld count); env "
    "CORRIDOR_SMALL_COUNTS_BELOW",
    "matching_model_file": "A matching model (corridor-match-model/1 JSON, as `corridor "
    "bench` trains) replacing the shipped one; env CORRIDOR_MATCHING_MODEL_FILE",
}

"""The command table: every command of ``corridor`` (click's command tree) and what it does
with personal data, for the check generated from it (tests/cli/test_command_table_protection.py),
as tests/support/route_table.py is for the web's routes.

A command missing here, or named here and gone from the tree, fails the check: the next
command cannot forget to say who runs it and what it shows. Kinds:

- ``reads``: prints or writes persons' data, read through the gate as the operator on the
  server (``cli:<login>``, role ``operator``: no role of the matrix, so every restricted
  field group withheld, every site in reach). Run against the world of every kind of
  record; what it shows is checked as the web's routes are (withheld fields, detention
  sites, one audit event per person shown, no filter by a detention facility).
- ``writes``: changes a person and prints only what it changed (ids, numbers), audited
  by its own write. Run and checked the same way.
- ``operator``: an administrator's operational tool that handles the whole database by
  design, around the gate (a backup, a restore, a migration): named in docs/security.md's
  "The command line" and audited by one event of its own ``audits`` action.
- ``none``: names no person (counts, chain heads, staff, sites, keys, forms). Run where
  ``args`` are given: no person of the world and no canary in what it prints.
- ``bench``: reads benchmark files, not the registry.

``args``: the command line (placeholders filled by the check: ``{db}`` the world's
database, ``{out}`` a fresh folder, ``{site:A}``, ``{person:adult}``, ``{file:csv}`` an
import file naming the world's adult, ``{backup}`` a backup of the world, ``{fresh_db}``
an empty database). A ``reads``/``writes`` command without ``args`` names in
``tested_by`` the test file that runs it (the file must mention the command).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    kind: str  # reads, writes, operator, none, bench
    why: str
    args: tuple[str, ...] = ()
    audits: str | None = None  # an operator tool's audit action
    public: bool = False  # goes to public registries: only persons who agreed to tracing
    # Options naming a site: True where it filters what is shown (a detention facility
    # there is refused, as on the web), False where it is where records are written.
    site_options: tuple[tuple[str, bool], ...] = ()
    shows: bool = False  # on the world, it shows at least one person (a sanity check)
    # Run once per format, "FORMAT" in ``args`` standing for it (``export fetch csv``);
    # those of PUBLIC_FORMATS go to public registries (as ``public``).
    formats: tuple[str, ...] = ()
    tested_by: str | None = None


PUBLIC_FORMATS = ("pfif",)


DB = ("--db", "{db}")
EXPORT_ASK_WHY = (
    "asks for an export of every site (or those --site names): the first key; prints its "
    "id, names nobody (audited export.bulk without a person)"
)
EXPORT_WHY = (
    "an export the operator asked for, once a second person approved it: encrypted, read "
    "through the gate as an exporter holding no role; one export.bulk event per person"
)
IMPORT_WHY = (
    "persons from a file; the report names the registered persons it probably duplicates "
    "(ids and numbers), audited as a search by the operator"
)
NOT_RUN_ADMIN = "staff or sites, audited users.admin/sites.admin (tests/cli/test_admin_cli.py)"
NOT_RUN_KEYS = "encryption keys, audited keys.admin (tests/cli/test_keys_and_audit_cli.py)"
NOT_RUN_NODE = "site nodes' enrolment and state, no person (tests/sync/test_node_cli.py)"

COMMANDS: dict[str, Command] = {
    "audit verify": Command("none", "the chain's length and head", ("audit", "verify", *DB)),
    "backup": Command(
        "operator",
        "the whole database, sealed fields as ciphertext, to a file (optionally encrypted)",
        ("backup", *DB, "--out", "{out}/corridor.backup"),
        audits="backup",
    ),
    "restore": Command(
        "operator",
        "a backup written into an empty database, then checked",
        ("restore", "--db", "{fresh_db}", "--from", "{backup}"),
        audits="restore",
    ),
    "bench dedupe": Command("bench", "benchmark records from a file"),
    "bench match": Command("bench", "benchmark registry and queries from files"),
    "db rebuild-locations": Command(
        "none", "recomputes locations from the movement log; prints a count",
        ("db", "rebuild-locations", *DB),
    ),  # fmt: skip
    "db upgrade": Command(
        "operator",
        "migrations rewrite tables (and the data steps they leave) by design; run on an "
        "empty database (an upgrade that changes nothing writes no event)",
        ("db", "upgrade", "--db", "{fresh_db}"),
        audits="db.upgrade",
    ),
    "demo": Command("none", "made-up persons and demo users (tests/cli/test_cli.py)"),
    "duplicates": Command(
        "reads",
        "probable duplicates: names and registration numbers printed and written (--out)",
        ("duplicates", *DB, "--out", "{out}/duplicates.csv"),
        shows=True,
    ),
    **{
        f"export {fmt}": Command(
            "none",
            EXPORT_ASK_WHY,
            ("export", fmt, *DB, "--reason", "for the partner"),
            site_options=(("--site", True),),
        )
        for fmt in ("csv", "jsonl", "pfif", "xlsx")
    },
    "export fetch": Command(
        "reads",
        EXPORT_WHY,
        ("export", "fetch", "{export:FORMAT}", *DB, "--out", "{out}/persons.FORMAT",
         "--passphrase-file", "{passphrase}"),
        shows=True,
        formats=("csv", "jsonl", "pfif", "xlsx"),
    ),  # fmt: skip
    "export open": Command(
        "none",
        "opens an encrypted export file for its recipient: the file's own content, no database",
    ),
    "form mapping": Command("none", "a mapping suggested for a form file: no database"),
    "form xlsform": Command(
        "none", "Corridor's own form: no database", ("form", "xlsform", "--out", "{out}/f.xlsx")
    ),
    **{
        f"import {fmt}": Command(
            "reads",
            IMPORT_WHY,
            ("import", fmt, f"{{file:{fmt}}}", *DB, "--site", "{site:A}", "--dry-run"),
            site_options=(("--site", False),),
            shows=True,
        )
        for fmt in ("csv", "kobo", "pfif", "xlsx")
    },
    "init": Command(
        "none", "a new database and its first administrator (tests/cli/test_admin_cli.py)"
    ),
    "keys destroy": Command("none", NOT_RUN_KEYS),
    "keys rotate": Command("none", NOT_RUN_KEYS),
    "keys rotate-master": Command("none", NOT_RUN_KEYS),
    "keys seal": Command("none", NOT_RUN_KEYS),
    "node approve": Command("none", NOT_RUN_NODE),
    "node export": Command(
        "reads",
        "persons' changes to another node as a sealed, signed bundle; sync.send per person",
        tested_by="tests/sync/test_guard.py",
    ),
    "node import": Command(
        "writes",
        "applies a bundle; prints counts; sync.apply per person",
        tested_by="tests/sync/test_node_cli.py",
    ),
    "node init": Command("none", NOT_RUN_NODE),
    "node join": Command("none", NOT_RUN_NODE),
    "node list": Command("none", "the nodes and their state", ("node", "list", *DB)),
    "node reinstate": Command("none", NOT_RUN_NODE),
    "node revoke": Command("none", NOT_RUN_NODE),
    "node status": Command("none", "this node's state, counts", ("node", "status", *DB)),
    "node sync": Command(
        "reads",
        "persons' changes pushed and pulled over HTTP; sync.send and sync.apply per person",
        tested_by="tests/sync/test_node_cli.py",
    ),
    "node wipe": Command("none", NOT_RUN_NODE),
    "person renumber": Command(
        "writes",
        "a new registration number: prints the person's id and numbers (person.renumber)",
        ("person", "renumber", "{person:hospitalised}", *DB, "--reason", "number given twice"),
        shows=True,
    ),
    "report hxl": Command(
        "none",
        "published aggregates: small counts withheld, the others rounded",
        ("report", "hxl", *DB, "--from", "{today}", "--to", "{today}"),
    ),
    "retention hold": Command(
        "writes",
        "a legal hold on a person: prints their id (retention.run)",
        ("retention", "hold", *DB, "--person", "{person:adult}"),
        shows=True,
    ),
    "retention run": Command(
        "none", "disposal counts", ("retention", "run", *DB, "--dry-run")
    ),
    "serve": Command("none", "the web app: the route table's checks (tests/api)"),
    "sites close": Command("none", NOT_RUN_ADMIN),
    "sites create": Command("none", NOT_RUN_ADMIN),
    "sites edit": Command("none", NOT_RUN_ADMIN),
    "sites list": Command(
        "none", "sites, a detention facility by its label", ("sites", "list", *DB, "--json")
    ),
    "tokens list": Command("none", "API tokens of staff", ("tokens", "list", *DB)),
    "tokens revoke": Command("none", NOT_RUN_ADMIN),
    "users create": Command("none", NOT_RUN_ADMIN),
    "users deactivate": Command("none", NOT_RUN_ADMIN),
    "users edit": Command("none", NOT_RUN_ADMIN),
    "users end-sessions": Command("none", NOT_RUN_ADMIN),
    "users list": Command("none", "staff accounts", ("users", "list", *DB)),
    "users reactivate": Command("none", NOT_RUN_ADMIN),
    "users reset-second-factor": Command("none", NOT_RUN_ADMIN),
    "users reset-password": Command("none", NOT_RUN_ADMIN),
    "users unlock": Command("none", NOT_RUN_ADMIN),
}

# Words no option of any command may hold: there is no search, list or export by
# nationality, ethnicity or detention (PROTECTION.md, "What Corridor is not").
FORBIDDEN_FILTERS = ("nationality", "ethnic", "detention", "detained", "religion", "tribe")

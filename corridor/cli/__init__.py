"""The ``corridor`` command: parses options, calls services, prints results.

One module per group of commands (``db``, ``admin`` (users, sites, tokens), ``serve``,
``demo``, ``keys``, ``audit``, ``backup``/``restore``, ``retention``, ``bench``,
``duplicates``, ``formats``, ``node``, ``person``), each importing only
``corridor.cli.options``; this module builds the root group from them.
"""

from __future__ import annotations

import click

from corridor.cli.admin import COMMANDS as ADMIN_COMMANDS
from corridor.cli.audit import audit
from corridor.cli.backup import backup, restore
from corridor.cli.bench import bench
from corridor.cli.db import db, init
from corridor.cli.demo import demo
from corridor.cli.duplicates import duplicates
from corridor.cli.formats import COMMANDS as FORMAT_COMMANDS
from corridor.cli.keys import keys
from corridor.cli.node import node
from corridor.cli.person import person
from corridor.cli.retention import retention
from corridor.cli.serve import serve


@click.group()
@click.version_option(package_name="corridor")
def main() -> None:
    """Corridor: registration, movements and family tracing."""


for _command in (
    init, db, serve, demo, keys, audit, backup, restore, retention, bench, duplicates
):
    main.add_command(_command)
for _command in (*ADMIN_COMMANDS, *FORMAT_COMMANDS):
    main.add_command(_command)
main.add_command(node)  # site nodes (issue 16)
main.add_command(person)  # a number given anew (issue 16)

"""`corridor demo` says what it is doing while it builds (issue 13: `make demo` printed
nothing for about 80 s, then everything at once)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from corridor.cli import main


def test_demo_prints_a_line_per_stage_and_per_day_before_its_summary(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    r = CliRunner().invoke(main, ["demo", "--db", url, "--households", "30", "--days", "4"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == "Building the demo scenario: 30 households over 4 days"
    days = [i for i, line in enumerate(lines) if line.startswith("  day ")]
    assert [lines[i].split(":")[0].strip() for i in days] == [
        f"day {d} of 4" for d in range(1, 5)
    ]
    # The running count of households ends at all of them (and the three of the story).
    assert lines[days[-1]].split("(")[1].startswith("33 in all")
    summary = lines.index("households: 33")
    assert days[-1] < lines.index("creating the demo users") < summary


def test_demo_lines_reach_a_pipe_while_it_is_still_building(tmp_path: Path) -> None:
    """Through a pipe (a log, `make demo | tee`), the first day's line arrives while the
    build goes on, not all at the end."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    command = [sys.executable, "-m", "corridor.cli", "demo", "--db", db]
    command += ["--households", "300", "--days", "8"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    ) as proc:
        assert proc.stdout is not None
        still_running = False
        try:
            for line in proc.stdout:
                if line.startswith("  day 1 of 8"):
                    still_running = proc.poll() is None
                    break
            rest = proc.stdout.read()
            assert proc.wait(timeout=120) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert still_running, "the first day's line came only when the build was over"
    assert "  day 8 of 8" in rest and "households: 303" in rest

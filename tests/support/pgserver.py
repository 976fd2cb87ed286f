"""Throwaway PostgreSQL clusters for tests.

Usage::

    from tests.support.pgserver import postgres_unavailable_reason, start_postgres

    reason = postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    with start_postgres() as pg:
        engine = sqlalchemy.create_engine(pg.url)   # postgresql+psycopg://...
        psycopg.connect(pg.dsn)                     # plain libpq URI

``start_postgres()`` runs ``initdb`` and ``pg_ctl`` on a free port of 127.0.0.1 in a
fresh temporary directory (trust authentication, fsync off: never use it for real data)
and creates the database ``corridor_test``. ``PgServer.stop()`` kills the server and
removes the directory; it is also registered with ``atexit`` as a safety net.

When running as root (initdb refuses root), the cluster is owned by the ``postgres``
system user if it exists, otherwise by a dedicated system user ``corridor-pg`` that is
created on first use; the server binaries then run through ``runuser`` (or ``setpriv``).

Environment knobs:

* ``CORRIDOR_PG_BINDIR``: directory holding ``initdb``, ``pg_ctl`` and ``postgres``.
* ``CORRIDOR_PG_TMPDIR``: parent directory for the temporary cluster directories.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["PgServer", "PgServerError", "postgres_unavailable_reason", "start_postgres"]

DBNAME = "corridor_test"
SUPERUSER = "postgres"
DEDICATED_OS_USER = "corridor-pg"
STARTUP_TIMEOUT = 60.0
_REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
# Unix socket paths are limited to 107 bytes; keep a margin for "/.s.PGSQL.NNNNN".
_MAX_SOCKET_DIR_LEN = 80


class PgServerError(RuntimeError):
    """The throwaway server could not be started."""


# --------------------------------------------------------------------------- binaries


def _version_key(bindir: str) -> tuple[int, ...]:
    m = re.search(r"/postgresql/(\d+(?:\.\d+)?)/bin/?$", bindir)
    if not m:
        return (0,)
    return tuple(int(p) for p in m.group(1).split("."))


def _has_server_binaries(bindir: str | None) -> bool:
    if not bindir:
        return False
    return all(os.access(os.path.join(bindir, b), os.X_OK) for b in _REQUIRED_BINARIES)


def _candidate_bindirs() -> list[str]:
    candidates: list[str] = []
    env = os.environ.get("CORRIDOR_PG_BINDIR")
    if env:
        candidates.append(env)
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                candidates.append(out)
    # Debian/Ubuntu layout; prefer the highest major version.
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    candidates.extend(debian)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(os.path.dirname(os.path.realpath(initdb)))
    candidates.extend(["/usr/local/pgsql/bin", "/usr/pgsql-15/bin"])
    return candidates


def find_bindir() -> str | None:
    """Directory with ``initdb``, ``pg_ctl`` and ``postgres``, or ``None``."""
    env = os.environ.get("CORRIDOR_PG_BINDIR")
    if env and not _has_server_binaries(env):
        return None  # an explicit override that is wrong should not be papered over
    for cand in _candidate_bindirs():
        if _has_server_binaries(cand):
            return cand
    return None


def _server_version(bindir: str) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            [os.path.join(bindir, "postgres"), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return out
    return "unknown"


# --------------------------------------------------------------------------- root handling


def _is_root() -> bool:
    return os.geteuid() == 0


def _drop_privileges_tool() -> list[str] | None:
    """Command prefix template; ``{user}``/``{uid}``/``{gid}`` are filled in for the target."""
    runuser = shutil.which("runuser") or (
        "/usr/sbin/runuser" if os.access("/usr/sbin/runuser", os.X_OK) else None
    )
    if runuser:
        return [runuser, "-u", "{user}", "--"]
    setpriv = shutil.which("setpriv")
    if setpriv:
        return [setpriv, "--reuid={uid}", "--regid={gid}", "--init-groups", "--"]
    return None


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _useradd_tool() -> str | None:
    for name in ("useradd", "adduser"):
        found = shutil.which(name) or (
            f"/usr/sbin/{name}" if os.access(f"/usr/sbin/{name}", os.X_OK) else None
        )
        if found:
            return found
    return None


def _ensure_os_user() -> str:
    """The unprivileged OS user that owns clusters when we are root (created if needed)."""
    if _user_exists("postgres"):
        return "postgres"
    if _user_exists(DEDICATED_OS_USER):
        return DEDICATED_OS_USER
    tool = _useradd_tool()
    if tool is None:
        raise PgServerError("running as root, no 'postgres' user and no useradd/adduser")
    if tool.endswith("useradd"):
        cmd = [
            tool,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            DEDICATED_OS_USER,
        ]
    else:
        cmd = [
            tool,
            "--system",
            "--group",
            "--no-create-home",
            "--home",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            DEDICATED_OS_USER,
        ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    # A concurrent process may have created it in the meantime.
    if proc.returncode != 0 and not _user_exists(DEDICATED_OS_USER):
        raise PgServerError(
            f"could not create system user {DEDICATED_OS_USER!r}: {proc.stderr.strip()}"
        )
    return DEDICATED_OS_USER


def _user_can_enter(prefix: list[str], path: str) -> bool:
    """Whether the dropped-privilege user can traverse into ``path``."""
    proc = subprocess.run(
        [*prefix, "test", "-x", path, "-a", "-d", path],
        capture_output=True,
        timeout=30,
        cwd="/",
    )
    return proc.returncode == 0


# --------------------------------------------------------------------------- availability


def postgres_unavailable_reason() -> str | None:
    """Why no throwaway server can be started here, or ``None`` if it probably can."""
    bindir = find_bindir()
    if bindir is None:
        env = os.environ.get("CORRIDOR_PG_BINDIR")
        if env:
            return f"CORRIDOR_PG_BINDIR={env} lacks one of {', '.join(_REQUIRED_BINARIES)}"
        return (
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in "
            "CORRIDOR_PG_BINDIR, `pg_config --bindir`, /usr/lib/postgresql/*/bin or PATH; "
            "install the Debian package 'postgresql' (scripts/install-system-deps.sh)"
        )
    if _is_root():
        if _drop_privileges_tool() is None:
            return "running as root and neither runuser nor setpriv is available to drop privileges"
        if not (_user_exists("postgres") or _user_exists(DEDICATED_OS_USER) or _useradd_tool()):
            return "running as root, no 'postgres' user and no useradd/adduser to create one"
    return None


# --------------------------------------------------------------------------- helpers


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, limit: int = 8000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no server log: {exc})"
    return text[-limit:] if text else "(server log is empty)"


@functools.lru_cache(maxsize=1)
def _pick_locale() -> tuple[str, ...]:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["locale", "-a"], capture_output=True, text=True, timeout=10).stdout
        names = {line.strip().lower() for line in out.splitlines()}
        if "c.utf8" in names or "c.utf-8" in names:
            return ("--locale=C.UTF-8", "--lc-messages=C")
    return ("--no-locale",)


# --------------------------------------------------------------------------- server


class PgServer:
    """A running throwaway cluster. Use :func:`start_postgres` to create one."""

    def __init__(self, *, dbname: str = DBNAME, bindir: str | None = None) -> None:
        reason = postgres_unavailable_reason()
        if reason:
            raise PgServerError(reason)
        found = bindir or find_bindir()
        assert found is not None
        self.bindir = found
        self.version = _server_version(self.bindir)
        self.host = "127.0.0.1"
        self.user = SUPERUSER
        self.dbname = dbname
        self.port = 0
        self.os_user: str | None = None
        self._prefix: list[str] = []
        self._stopped = False
        self._tmp: Path | None = None
        self._owner_pid = os.getpid()

    # -- paths
    @property
    def tmpdir(self) -> Path:
        assert self._tmp is not None
        return self._tmp

    @property
    def datadir(self) -> Path:
        return self.tmpdir / "data"

    @property
    def socketdir(self) -> Path:
        return self.tmpdir / "sock"

    @property
    def logfile(self) -> Path:
        return self.tmpdir / "server.log"

    def url_for(self, dbname: str, driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://{self.user}@{self.host}:{self.port}/{dbname}"

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "running"
        return f"<PgServer {self.host}:{self.port} {state} {self._tmp}>"

    # -- process helpers
    def _bin(self, name: str) -> str:
        return os.path.join(self.bindir, name)

    def _run(
        self, args: list[str], *, timeout: float = 120, check: bool = True, as_owner: bool = True
    ) -> subprocess.CompletedProcess[str]:
        cmd = [*self._prefix, *args] if as_owner else args
        # Outside PG* variables (PGSSLMODE, PGSERVICE, PGDATA...) must not leak in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_MESSAGES"] = "C"
        proc = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=str(self._tmp) if self._tmp else "/",
            env=env,
            check=False,
        )
        if check and proc.returncode != 0:
            raise PgServerError(
                f"command failed ({proc.returncode}): {' '.join(cmd)}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc

    def _make_tmpdir(self) -> None:
        bases: list[str | None] = [os.environ.get("CORRIDOR_PG_TMPDIR"), None, "/tmp", "/var/tmp"]
        last_error = "no candidate directory"
        for base in bases:
            if base is not None and not os.path.isdir(base):
                continue
            tmp = tempfile.mkdtemp(prefix="corridor-pg-", dir=base)
            if len(os.path.join(tmp, "sock")) > _MAX_SOCKET_DIR_LEN:
                shutil.rmtree(tmp, ignore_errors=True)
                last_error = f"path too long for a unix socket: {tmp}"
                continue
            if self.os_user is not None:
                pw = pwd.getpwnam(self.os_user)
                os.chown(tmp, pw.pw_uid, pw.pw_gid)
                os.chmod(tmp, 0o700)
                if not _user_can_enter(self._prefix, tmp):
                    shutil.rmtree(tmp, ignore_errors=True)
                    last_error = f"user {self.os_user!r} cannot reach {tmp}"
                    continue
            self._tmp = Path(tmp)
            return
        raise PgServerError(f"could not make a temporary directory for PostgreSQL: {last_error}")

    # -- lifecycle
    def start(self, timeout: float = STARTUP_TIMEOUT) -> PgServer:
        if _is_root():
            self.os_user = _ensure_os_user()
            template = _drop_privileges_tool()
            assert template is not None
            pw = pwd.getpwnam(self.os_user)
            self._prefix = [
                p.replace("{user}", pw.pw_name)
                .replace("{uid}", str(pw.pw_uid))
                .replace("{gid}", str(pw.pw_gid))
                for p in template
            ]
        self._make_tmpdir()
        self._owner_pid = os.getpid()
        atexit.register(self._atexit_stop)
        try:
            self._initdb()
            self._start_server(timeout)
            self._create_database(self.dbname)
        except BaseException:
            self.stop()
            raise
        return self

    def _initdb(self) -> None:
        self._run(["mkdir", "-m", "0700", str(self.socketdir)])
        self._run(
            [
                self._bin("initdb"),
                "--pgdata",
                str(self.datadir),
                "--username",
                self.user,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                *_pick_locale(),
                "--no-sync",
            ],
            timeout=180,
        )
        # Only 127.0.0.1 over TCP (plus our private socket directory).
        hba = (
            "# throwaway test cluster written by tests/support/pgserver.py\n"
            "local   all   all                 trust\n"
            "host    all   all   127.0.0.1/32  trust\n"
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.socketdir}'",
            "unix_socket_permissions": "0700",
            "max_connections": "100",
            "fsync": "off",
            "full_page_writes": "off",
            "synchronous_commit": "off",
            "logging_collector": "off",
            "log_min_messages": "warning",
            "shared_buffers": "128MB",
            "max_wal_size": "1GB",
            "timezone": "'UTC'",
            "log_timezone": "'UTC'",
            "lc_messages": "'C'",
        }
        conf = "\n# --- tests/support/pgserver.py\n" + "".join(
            f"{k} = {v}\n" for k, v in settings.items()
        )
        # Write as the cluster owner so the ownership stays right when we are root.
        self._write_as_owner(self.datadir / "pg_hba.conf", hba, append=False)
        self._write_as_owner(self.datadir / "postgresql.conf", conf, append=True)

    def _write_as_owner(self, path: Path, text: str, *, append: bool) -> None:
        with open(path, "a" if append else "w", encoding="utf-8") as fh:
            fh.write(text)
        if self.os_user is not None:
            pw = pwd.getpwnam(self.os_user)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _start_server(self, timeout: float) -> None:
        last = log = ""
        for _attempt in range(5):
            self.port = _free_port()
            proc = self._run(
                [
                    self._bin("pg_ctl"),
                    "--pgdata",
                    str(self.datadir),
                    "--log",
                    str(self.logfile),
                    "--options",
                    f"-p {self.port}",
                    "--wait",
                    "--timeout",
                    str(int(timeout)),
                    "start",
                ],
                timeout=timeout + 30,
                check=False,
            )
            if proc.returncode == 0:
                self._wait_ready(timeout)
                return
            last = f"pg_ctl start failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            log = _tail(self.logfile)
            if "could not bind" in log or "Address already in use" in log:
                self._kill_server()
                with contextlib.suppress(OSError):
                    self.logfile.unlink()
                continue  # the port was taken between probing and binding; try another
            break
        raise PgServerError(
            f"PostgreSQL ({self.version}) in {self.tmpdir} did not start: {last}\n"
            f"--- server log ---\n{log}"
        )

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pg_isready = self._bin("pg_isready")
        use_isready = os.access(pg_isready, os.X_OK)
        while True:
            if use_isready:
                ok = (
                    self._run(
                        [
                            pg_isready,
                            "-q",
                            "-h",
                            self.host,
                            "-p",
                            str(self.port),
                            "-U",
                            self.user,
                            "-d",
                            "postgres",
                            "-t",
                            "5",
                        ],
                        check=False,
                        as_owner=False,
                        timeout=30,
                    ).returncode
                    == 0
                )
            else:
                try:
                    with socket.create_connection((self.host, self.port), timeout=2):
                        ok = True
                except OSError:
                    ok = False
            if ok:
                return
            if time.monotonic() > deadline:
                raise PgServerError(
                    f"PostgreSQL on {self.host}:{self.port} not ready after {timeout:.0f}s\n"
                    f"--- server log ---\n{_tail(self.logfile)}"
                )
            time.sleep(0.1)

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run SQL with the cluster's own psql (no Python driver needed)."""
        proc = self._run(
            [
                self._bin("psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                dbname,
                "-c",
                sql,
            ],
            as_owner=False,
        )
        return proc.stdout

    def create_database(self, dbname: str, template: str | None = None) -> str:
        """Create another database; returns its SQLAlchemy URL."""
        self._create_database(dbname, template)
        return self.url_for(dbname)

    def _create_database(self, dbname: str, template: str | None = None) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", dbname):
            raise ValueError(f"unsafe database name: {dbname!r}")
        if template is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", template):
            raise ValueError(f"unsafe template name: {template!r}")
        sql = f'CREATE DATABASE "{dbname}"'
        if template:
            sql += f' TEMPLATE "{template}"'
        self.psql(sql)

    @property
    def url(self) -> str:
        """SQLAlchemy URL: ``postgresql+psycopg://postgres@127.0.0.1:PORT/corridor_test``."""
        return self.url_for(self.dbname)

    @property
    def dsn(self) -> str:
        """libpq URI for psycopg: ``postgresql://postgres@127.0.0.1:PORT/corridor_test``."""
        return self.url_for(self.dbname, driver="postgresql")

    def _postmaster_pid(self) -> int | None:
        try:
            first = (self.datadir / "postmaster.pid").read_text().splitlines()[0]
            return int(first.strip())
        except (OSError, ValueError, IndexError):
            return None

    def _kill_server(self) -> None:
        if self._tmp is None or not self.datadir.exists():
            return
        pid = self._postmaster_pid()
        stopped = False
        with contextlib.suppress(Exception):
            stopped = (
                self._run(
                    [
                        self._bin("pg_ctl"),
                        "--pgdata",
                        str(self.datadir),
                        "--mode",
                        "immediate",
                        "--wait",
                        "--timeout",
                        "20",
                        "stop",
                    ],
                    check=False,
                    timeout=40,
                ).returncode
                == 0
            )
        if pid is not None and not stopped:
            # Make sure the postmaster is gone even if pg_ctl failed.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except (ProcessLookupError, PermissionError):
                    break
                time.sleep(0.05)

    def _atexit_stop(self) -> None:
        if os.getpid() == self._owner_pid:  # not in a forked child
            self.stop()

    def stop(self) -> None:
        """Kill the server and delete its directory. Safe to call more than once."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(Exception):
            atexit.unregister(self._atexit_stop)
        try:
            self._kill_server()
        finally:
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> PgServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_postgres(*, dbname: str = DBNAME, timeout: float = STARTUP_TIMEOUT) -> PgServer:
    """Start a throwaway cluster with database ``dbname``; raises :class:`PgServerError`."""
    return PgServer(dbname=dbname).start(timeout=timeout)

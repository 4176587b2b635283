"""A throwaway PostgreSQL server for tests: `initdb` + `pg_ctl` in a temporary folder, listening on a free
loopback port with password authentication. PostgreSQL refuses to run as root, so as root the server commands
run as the `postgres` user (the Debian package creates it) through `runuser`."""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from medimind_assets_tests.e2e.processes import free_port

SERVER_USER = "postgres"
SERVER_TOOLS = ("initdb", "pg_ctl", "postgres", "createdb")


def find_bin_dir() -> Path | None:
    """The folder holding initdb, pg_ctl and createdb: on PATH, or Debian's /usr/lib/postgresql/<version>/bin."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version(p.parent.name), reverse=True)
    for folder in [*candidates, *debian]:
        if all((folder / tool).is_file() for tool in SERVER_TOOLS):
            return folder
    return None


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def missing_reason() -> str | None:
    """Why no server can be started here, or None when it can."""
    if find_bin_dir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's postgresql (.ci/system-deps.sh)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and no `{SERVER_USER}` user to run PostgreSQL as"
        if shutil.which("runuser") is None:
            return "running as root and `runuser` (util-linux) is missing"
    return None


@dataclass(frozen=True)
class Connection:
    host: str
    port: int
    user: str
    password: str
    database: str

    def dagster_env(self) -> dict[str, str]:
        """The variables deploy/dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_DB": self.database,
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
        }


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str], what: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> None:
    # cwd: a folder the server user can enter (the tests' own working directory may be private to root).
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}): {' '.join(command)}\n{result.stdout}{result.stderr}")


def _kill_postmaster(data_dir: Path) -> None:
    """Last resort when `pg_ctl stop` did not stop it: the postmaster's pid is the first line of postmaster.pid."""
    with contextlib.suppress(OSError, ValueError, IndexError, ProcessLookupError, PermissionError):
        pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def postgres_server(database: str = "dagster", user: str = "medimind") -> Iterator[Connection]:
    """Start a server with a `database` owned by `user` (a random password); stop it and delete its files on exit."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError(missing_reason())
    # Outside pytest's private temp folder: the postgres user must be able to reach it.
    root = Path(tempfile.mkdtemp(prefix="medimind-pg-"))
    data_dir, log_file, password_file = root / "data", root / "server.log", root / "password"
    password = secrets.token_urlsafe(16)
    password_file.write_text(password + "\n")
    if os.geteuid() == 0:
        account = pwd.getpwnam(SERVER_USER)
        for path in (root, password_file):
            os.chown(path, account.pw_uid, account.pw_gid)
    os.chmod(root, 0o700)
    port = free_port()
    started = False
    try:
        _run(
            _as_server_user(
                [
                    str(bin_dir / "initdb"),
                    f"--pgdata={data_dir}",
                    f"--username={user}",
                    f"--pwfile={password_file}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-sync",
                ]
            ),
            "initdb",
            cwd=root,
        )
        # A test server: no durability work, sockets in our folder, TCP on loopback only.
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off"
        _run(
            _as_server_user(
                [
                    str(bin_dir / "pg_ctl"),
                    "start",
                    "-D",
                    str(data_dir),
                    "-l",
                    str(log_file),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    options,
                ]
            ),
            f"pg_ctl start (log: {log_file})",
            cwd=root,
            timeout=90,
        )
        started = True
        connection = Connection(host="127.0.0.1", port=port, user=user, password=password, database=database)
        _run(
            [str(bin_dir / "createdb"), "-h", connection.host, "-p", str(port), "-U", user, database],
            "createdb",
            cwd=root,
            env={**os.environ, "PGPASSWORD": password},
        )
        yield connection
    finally:
        if started:
            try:
                _run(
                    _as_server_user(
                        [str(bin_dir / "pg_ctl"), "stop", "-D", str(data_dir), "-m", "fast", "-w", "-t", "30"]
                    ),
                    "pg_ctl stop",
                    cwd=root,
                )
            except (RuntimeError, subprocess.TimeoutExpired):
                _kill_postmaster(data_dir)
        shutil.rmtree(root, ignore_errors=True)

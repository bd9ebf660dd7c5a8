"""A real PostgreSQL server for the tests: its own cluster in a temporary folder, on a loopback port.

Debian's binaries (``.ci/run`` installs the ``postgresql`` package). initdb refuses to run as root, so
as root the cluster belongs to the ``postgres`` user. Each test gets a database of its own.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from casebridge.sandbox.emulation import free_port

USER = "casebridge"


def find_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin folder, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


class PostgresCluster:
    """``initdb`` + ``pg_ctl start`` in a new temporary folder; ``stop`` removes everything."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="casebridge-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.password = secrets.token_urlsafe(18)
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.folder, "postgres")

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120, cwd=self.folder)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stdout}\n{done.stderr}")

    def start(self) -> PostgresCluster:
        pwfile = self.folder / "pw"
        pwfile.write_text(self.password)
        if self._as:
            shutil.chown(pwfile, "postgres")
        self._run(
            str(self.bin_dir / "initdb"),
            f"--pgdata={self.data}",
            f"--username={USER}",
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--no-sync",
        )
        pwfile.unlink()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.folder}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-t", "60",
            "-o", options, "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        try:
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres", *, user: str = USER, password: str | None = None) -> str:
        return f"postgresql://{user}:{password or self.password}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A new, empty database; its URL (with the password in it, as CASEBRIDGE_DATABASE_URL takes it)."""
        import psycopg

        name = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def sql(self, url: str, statement: str) -> list[tuple[object, ...]]:
        """Run one statement in its own transaction as the superuser; its rows (or [])."""
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            cursor = conn.execute(statement)  # type: ignore[call-overload]
            return list(cursor.fetchall()) if cursor.description else []

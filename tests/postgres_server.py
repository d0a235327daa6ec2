"""A throw-away PostgreSQL server for tests: initdb into a temporary folder, pg_ctl start/stop.

Debian's server binaries live in /usr/lib/postgresql/<version>/bin; ``make test`` installs
them. PostgreSQL refuses to run as root, so under root the server runs as the ``postgres``
system user (created by the Debian package). It listens on a Unix socket only.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def server_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl, or ``None`` when PostgreSQL is not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server; yields a SQLAlchemy URL of its ``postgres`` database."""
    binaries = server_binaries()
    if binaries is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="molehunt-pg-"))
    data, sockets = folder / "data", folder / "sockets"
    sockets.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        shutil.chown(sockets, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    env = {**os.environ, "LC_ALL": "C"}
    subprocess.run([*prefix, str(binaries / "initdb"), "-D", str(data), "-A", "trust",
                    "-U", "molehunt", "--no-sync", "-E", "UTF8", "--locale=C"],
                   check=True, capture_output=True, env=env)
    options = f"-k {sockets} -c listen_addresses='' -c fsync=off -c max_connections=200"
    subprocess.run([*prefix, str(binaries / "pg_ctl"), "-D", str(data), "-o", options,
                    "-l", str(folder / "log"), "-w", "start"], check=True,
                   capture_output=True, env=env)
    try:
        yield f"postgresql+psycopg://molehunt@/postgres?host={sockets}"
    finally:
        subprocess.run([*prefix, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast",
                        "stop"], capture_output=True, env=env)
        shutil.rmtree(folder, ignore_errors=True)

"""A throwaway, real PostgreSQL server on loopback: the tests' database, and the simulation's own when its fault
schedule takes the database down (``simulate/database.py``): a cluster nobody else uses, so stopping it touches no
other desk.

    server = PostgresServer(find_postgres())
    server.start()                      # initdb into a temp dir, pg_ctl start -w
    dsn = server.dsn                    # postgresql+psycopg://desk@127.0.0.1:<port>/tradingdesk
    other = server.create_database("t1")
    server.stop()                       # pg_ctl stop, then the temp dir is removed

How it works:

- Binaries: ``$TD_PG_BINDIR``, then ``pg_config --bindir``, then the newest ``/usr/lib/postgresql/*/bin``,
  then ``initdb`` on ``$PATH``. If none is found and we run as root, ``apt-get install -y postgresql`` is
  tried (unless ``TD_PG_AUTO_INSTALL=0``); otherwise ``PostgresUnavailable`` says why (fixtures skip).
- PostgreSQL refuses to run as root. As root, initdb/pg_ctl run as the ``postgres`` system user if it
  exists, else ``nobody``; the temp dir is chowned to that user. The switch is made by ``setpriv`` (util-linux)
  in the child, not by ``subprocess``'s ``user=``/``group=``: those force a plain ``fork()``, which runs every
  ``pthread_atfork`` handler of the parent, and gRPC's, in a process whose other threads are inside gRPC, could
  crash the child before its ``exec`` (initdb "failed (-11)", seen in CI). Without them ``subprocess`` uses
  ``vfork()``, which runs no handlers. ``subprocess``'s own switch is kept for a machine without ``setpriv``.
- The cluster lives in ``/tmp/tdpg-XXXX`` (``$TD_PG_TMP`` to change): ``data/``, ``sock/`` (the unix socket
  directory) and ``server.log``. initdb runs with ``--no-sync`` (the data directory is thrown away; this
  saves a second), trust authentication, superuser ``desk``, UTF8, C locale.
- The server listens on 127.0.0.1 only, on a free port picked by binding port 0 (retried if another
  process grabs it first), with ``fsync=on``, ``synchronous_commit=on`` and ``full_page_writes=on``:
  commits are really durable, which the storage tests rely on.
- ``crash()`` stops the server with ``-m immediate`` (no shutdown checkpoint: on restart it runs crash
  recovery from the WAL), ``restart()`` starts it again on the same port.
- ``refuse_connections(dbname)`` keeps the server running but takes one database away from its clients at once:
  new sessions are refused (``ALLOW_CONNECTIONS false``, superusers included) and every session on it is ended
  (``pg_terminate_backend``); ``allow_connections(dbname)`` lets sessions in again. Both run from a superuser
  session on the ``postgres`` database, which stays usable throughout.

Run ``python -m tradingdesk.runtime.local_postgres`` to get a server for manual poking (Ctrl-C stops it).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SUPERUSER = "desk"
DEFAULT_DB = "tradingdesk"
TERMINATE_PASSES = 2
"""``refuse_connections`` signals every session of the database, then once more: a session that was past the
database's ``datallowconn`` check when it changed shows up in ``pg_stat_activity`` a moment later."""


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries, or they cannot be run here. The message says why."""


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", path)) or (0,)


def _bindir_ok(path: str | Path | None) -> Path | None:
    if not path:
        return None
    p = Path(path)
    if (p / "initdb").is_file() and (p / "pg_ctl").is_file() and (p / "postgres").is_file():
        return p
    return None


def find_bindir() -> Path | None:
    """Where initdb, pg_ctl and postgres live, or None."""
    if found := _bindir_ok(os.environ.get("TD_PG_BINDIR")):
        return found
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
            if found := _bindir_ok(out.stdout.strip()):
                return found
    for cand in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        if found := _bindir_ok(cand):
            return found
    initdb = shutil.which("initdb")
    if initdb:
        return _bindir_ok(Path(os.path.realpath(initdb)).parent)
    return None


def _apt_install() -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"]
    if subprocess.run(cmd, env=env, capture_output=True, timeout=900).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=600)
        subprocess.run(cmd, env=env, capture_output=True, timeout=900, check=True)


def find_postgres(*, auto_install: bool | None = None) -> Path:
    """The PostgreSQL bindir, installing the Debian package as root if allowed. Raises PostgresUnavailable."""
    found = find_bindir()
    if found:
        return found
    if auto_install is None:
        auto_install = os.environ.get("TD_PG_AUTO_INSTALL", "1") != "0"
    if not auto_install:
        raise PostgresUnavailable("PostgreSQL binaries not found (and TD_PG_AUTO_INSTALL=0)")
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PostgresUnavailable(
            "PostgreSQL binaries (initdb, pg_ctl) not found; install the 'postgresql' package "
            "or set TD_PG_BINDIR (automatic install needs root and apt-get)"
        )
    try:
        _apt_install()
    except (OSError, subprocess.SubprocessError) as exc:
        raise PostgresUnavailable(f"apt-get install postgresql failed: {exc}") from exc
    found = find_bindir()
    if not found:
        raise PostgresUnavailable("apt-get installed postgresql but no initdb/pg_ctl was found")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresUnavailable("running as root and neither a 'postgres' nor a 'nobody' user exists")


class PostgresServer:
    def __init__(self, bindir: Path, *, base_dir: str | None = None, dbname: str = DEFAULT_DB) -> None:
        self.bindir = Path(bindir)
        self.dbname = dbname
        self._base_parent = base_dir or os.environ.get("TD_PG_TMP") or "/tmp"
        self.base: Path | None = None
        self.port: int | None = None
        self.running = False
        self._user = _run_user()
        self.timings: dict[str, float] = {}

    # ------------------------------------------------------------------ paths and DSNs

    @property
    def data_dir(self) -> Path:
        assert self.base is not None
        return self.base / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.base is not None
        return self.base / "sock"

    @property
    def log_file(self) -> Path:
        assert self.base is not None
        return self.base / "server.log"

    def dsn_for(self, dbname: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    @property
    def dsn(self) -> str:
        return self.dsn_for(self.dbname)

    def conninfo(self, dbname: str = "postgres") -> str:
        """libpq conninfo for psycopg.connect (no SQLAlchemy)."""
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={dbname} connect_timeout=5"

    # ------------------------------------------------------------------ processes

    def _run(self, args: Sequence[str], *, timeout: float = 60, check: bool = True) -> Any:
        kwargs: dict[str, Any] = {}
        if self._user is not None:
            setpriv = shutil.which("setpriv")
            if setpriv:
                drop = [f"--reuid={self._user.pw_uid}", f"--regid={self._user.pw_gid}", "--clear-groups"]
                args = [setpriv, *drop, *args]
            else:
                kwargs.update(user=self._user.pw_uid, group=self._user.pw_gid, extra_groups=[])
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", HOME=str(self.base))
        proc = subprocess.run(
            list(args), cwd=self.base, env=env, capture_output=True, text=True, timeout=timeout, **kwargs
        )
        if check and proc.returncode != 0:
            log_tail = ""
            with contextlib.suppress(OSError):
                log_tail = self.log_file.read_text()[-3000:]
            raise PostgresUnavailable(
                f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n{log_tail}"
            )
        return proc

    def _bin(self, name: str) -> str:
        return str(self.bindir / name)

    def init(self) -> None:
        t0 = time.monotonic()
        Path(self._base_parent).mkdir(parents=True, exist_ok=True)
        self.base = Path(tempfile.mkdtemp(prefix="tdpg-", dir=self._base_parent))
        self.socket_dir.mkdir()
        if self._user is not None:
            for p in (self.base, self.socket_dir):
                os.chown(p, self._user.pw_uid, self._user.pw_gid)
        os.chmod(self.base, 0o700)
        self._run(
            [
                self._bin("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ]
        )
        self.timings["initdb_s"] = time.monotonic() - t0

    def _write_conf(self) -> None:
        conf = self.data_dir / "postgresql.auto.conf"
        lines = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.socket_dir}'",
            "fsync = on",
            "synchronous_commit = on",
            "full_page_writes = on",
            "max_connections = 60",
            "shared_buffers = 64MB",
            "max_wal_size = 1GB",
            "logging_collector = off",
            "log_min_messages = warning",
            "log_checkpoints = off",
            # After a crash the server syncs the data directory before recovery; one syncfs() is much
            # quicker than an fsync() per file.
            "recovery_init_sync_method = syncfs",
        ]
        with conf.open("a") as f:
            f.write("\n# tradingdesk test server\n" + "\n".join(lines) + "\n")

    def _pg_ctl_start(self) -> None:
        args = [self._bin("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file)]
        self._run([*args, "-w", "-t", "30", "start"], timeout=45)
        self.running = True

    def start(self) -> PostgresServer:
        """initdb (first time) and start on a free loopback port; also creates ``dbname``."""
        t0 = time.monotonic()
        if self.base is None:
            self.init()
        last_exc: Exception | None = None
        for _ in range(5):
            self.port = free_port()
            self._write_conf()
            try:
                self._pg_ctl_start()
                break
            except PostgresUnavailable as exc:  # most likely the port was taken in between: try another
                last_exc = exc
        else:
            raise PostgresUnavailable(f"PostgreSQL did not start: {last_exc}")
        atexit.register(self._atexit)
        self.create_database(self.dbname)
        self.timings["start_s"] = time.monotonic() - t0
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: clean shutdown; ``immediate``: like a crash)."""
        if not self.running:
            return
        self._run([self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "-t", "30", "stop"])
        self.running = False

    def is_running(self) -> bool:
        """Whether the server's postmaster runs (``pg_ctl status``), whatever this object last did to it."""
        if self.base is None:
            return False
        status = self._run([self._bin("pg_ctl"), "-D", str(self.data_dir), "status"], check=False)
        return status.returncode == 0

    def crash(self) -> None:
        """Stop without a shutdown checkpoint; the next start runs crash recovery from the WAL."""
        self.stop("immediate")

    def restart(self) -> None:
        """Start a stopped server again, on the same port."""
        if not self.running:
            self._pg_ctl_start()

    def destroy(self) -> None:
        """Stop the server and remove its directory (immediate stop: the data is thrown away anyway)."""
        with contextlib.suppress(Exception):
            self.stop("immediate")
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None
        atexit.unregister(self._atexit)

    def _atexit(self) -> None:
        if self.running or self.base is not None:
            self.destroy()

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    # ------------------------------------------------------------------ databases

    def _admin(self, statement: Any) -> None:
        import psycopg

        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(statement)

    def create_database(self, name: str) -> str:
        """Create database ``name`` and return its SQLAlchemy DSN."""
        from psycopg import sql

        self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.dsn_for(name)

    def control_session(self) -> Any:
        """A new superuser session on the ``postgres`` database (psycopg, autocommit): ``refuse_connections`` never
        ends it. Its commits do not wait for the WAL flush (``synchronous_commit=off``): what it changes only
        matters while the server runs."""
        import psycopg

        try:
            return psycopg.connect(self.conninfo("postgres"), autocommit=True, options="-c synchronous_commit=off")
        except psycopg.Error as exc:
            raise PostgresUnavailable(f"no control session: {exc}") from exc

    def refuse_connections(self, dbname: str, *, session: Any = None) -> int:
        """Refuse new sessions of ``dbname`` and end every session on it, the server left running; returns how many
        sessions were signalled to end. The clients see what a lost server looks like: the session cut ("terminating
        connection due to administrator command"), then each new one refused ("database ... is not currently
        accepting connections"), while their committed transactions stay as they are. ``session``: a
        ``control_session`` to run it in (one is opened and closed otherwise; keeping one saves its start, tenths
        of a second on a loaded machine). ``PostgresUnavailable`` when the server cannot be asked."""
        import psycopg
        from psycopg import sql

        ended: set[int] = set()
        conn = session if session is not None else self.control_session()
        try:
            conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(dbname)))
            # Signalled, not waited for: each one is cut the moment it takes the signal, and waiting for a loaded
            # machine to schedule every exit would lengthen the outage.
            for _ in range(TERMINATE_PASSES):
                signalled = conn.execute(
                    "WITH desk AS MATERIALIZED (SELECT pid FROM pg_stat_activity WHERE datname = %s"
                    " AND pid <> pg_backend_pid() AND backend_type = 'client backend')"
                    " SELECT pid FROM desk WHERE pg_terminate_backend(pid)",
                    (dbname,),
                ).fetchall()
                ended.update(pid for (pid,) in signalled)
        except psycopg.Error as exc:
            raise PostgresUnavailable(f"refusing the sessions of {dbname} failed: {exc}") from exc
        finally:
            if session is None:
                conn.close()
        return len(ended)

    def allow_connections(self, dbname: str, *, session: Any = None) -> None:
        """Let sessions of ``dbname`` in again after ``refuse_connections`` (``session``: as there);
        ``PostgresUnavailable`` when the server cannot be asked."""
        import psycopg
        from psycopg import sql

        conn = session if session is not None else self.control_session()
        try:
            conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(dbname)))
        except psycopg.Error as exc:
            raise PostgresUnavailable(f"allowing the sessions of {dbname} failed: {exc}") from exc
        finally:
            if session is None:
                conn.close()

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def main() -> None:  # pragma: no cover - manual use
    server = PostgresServer(find_postgres()).start()
    print(server.dsn, flush=True)
    print(f"psql: {server.bindir / 'psql'} 'host=127.0.0.1 port={server.port} user={SUPERUSER}'", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.destroy()


if __name__ == "__main__":
    main()

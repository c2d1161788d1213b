"""The simulation's own PostgreSQL, started when its fault schedule takes the database down.

The desk of a simulation keeps its state in SQLite files of the run directory unless the schedule has a
``database_down`` fault: then the run starts a PostgreSQL cluster of its own (``runtime/local_postgres.py``:
initdb into a temporary directory, loopback, a free port) and the desk's five services use it through
``TD_DSN``, one schema each, as they would on Kubernetes. Nothing else uses that cluster, so taking it down
touches no other desk, test or engineer's database; a ``TD_DSN`` the caller has set is not used (it could be
shared).

``down`` takes the database away the way a lost server looks to its clients, in one of two ways (``DOWN_HOWS``):

- ``refuse`` (the default): the server keeps running; from a superuser session on the ``postgres`` database the
  desk's database stops taking sessions (``ALTER DATABASE ... ALLOW_CONNECTIONS false``) and every session on it
  is ended (``pg_terminate_backend``): the desk's clients get "terminating connection due to administrator
  command", then "database ... is not currently accepting connections" on each reconnect. ``up`` lets them in
  again. Both take milliseconds, so the outage lasts what the fault schedule says, even at 100x.
- ``crash``: every session is cut at once (``pg_ctl stop -m immediate``, no shutdown checkpoint) and new connections
  are refused until ``up`` starts the server again on the same port, running crash recovery from the WAL. The
  outage includes that restart: some seconds of wall time, minutes of market time at 100x.

The desk's services connect to the database ``DEFAULT_DB`` (``dsn``); the control session and the verdict's reads
after the run use the same superuser, and ``postgres`` for the control, so nothing of the simulation's own is
refused. Committed transactions survive either way (``fsync=on``), so anything the desk acknowledged must still
be there. A hang (a network partition, where packets vanish and connections neither fail nor answer) is not
simulated yet: the desk would only notice it after libpq's keepalive and ``tcp_user_timeout`` (30 s,
``storage/db.py``).
"""

from __future__ import annotations

from typing import Any

from tradingdesk.runtime.local_postgres import PostgresServer, PostgresUnavailable, find_postgres

PG_CTL_ATTEMPTS = 3
DOWN_HOWS = ("refuse", "crash")
"""How ``down`` takes the database away; the first is the default."""


class SimulationDatabaseError(RuntimeError):
    """The simulation's own PostgreSQL cannot be started here; the message says why."""


class SimulationDatabase:
    """One private PostgreSQL cluster for one run: ``start``, ``down``/``up`` as often as the schedule says,
    ``destroy`` at the end (the cluster and its directory go)."""

    def __init__(self) -> None:
        self._server: PostgresServer | None = None
        self._down_how = ""
        """How the database was taken down ("" while it is up): what ``up`` undoes."""
        self._control: Any = None
        """The simulation's own superuser session on ``postgres``, kept open: ``down`` and ``up`` need no new one."""

    @property
    def dsn(self) -> str:
        """The desk's database (``DEFAULT_DB``), as the desk's services reach it through ``TD_DSN``."""
        return self._server_or_fail().dsn

    def conninfo(self, dbname: str) -> str:
        """libpq conninfo of a superuser session on ``dbname``: ``postgres`` is the control session's, never
        refused."""
        return self._server_or_fail().conninfo(dbname)

    def start(self) -> SimulationDatabase:
        try:
            self._server = PostgresServer(find_postgres(auto_install=False))
            self._server.start()
            self._control_session()
        except PostgresUnavailable as exc:
            self.destroy()
            raise SimulationDatabaseError(
                f"a database_down fault needs a PostgreSQL of the simulation's own, which did not start: {exc}"
            ) from None
        return self

    def down(self, *, how: str = DOWN_HOWS[0]) -> None:
        """Cut every session of the desk and refuse new ones (``how``: see the module docstring)."""
        if how not in DOWN_HOWS:
            raise ValueError(f"how={how!r}: one of {', '.join(DOWN_HOWS)}")
        server = self._server_or_fail()
        if how == "crash":
            self._close_control()  # the crash ends it
            self._until_running(False, server.crash)
        else:
            try:
                server.refuse_connections(server.dbname, session=self._control_session())
            except PostgresUnavailable as exc:
                self._close_control()
                raise SimulationDatabaseError(f"the database could not be taken away: {exc}") from None
        self._down_how = how

    def up(self) -> None:
        """Undo ``down``; returns once the desk's sessions are let in again (after a crash: the server started
        again on its port, crash recovery from the WAL done)."""
        server = self._server_or_fail()
        if self._down_how == "crash":
            self._until_running(True, server.restart)
        elif self._down_how == "refuse":
            try:
                server.allow_connections(server.dbname, session=self._control_session())
            except PostgresUnavailable as exc:
                self._close_control()
                raise SimulationDatabaseError(f"the database could not be given back: {exc}") from None
        self._down_how = ""

    def desk_sessions(self) -> int:
        """The sessions of the desk's database the server still has. ``down`` signals each one to end and returns
        without waiting: one that takes the signal late, on a loaded machine, lives on for a moment."""
        server = self._server_or_fail()
        return int(
            self._control_session()
            .execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
                (server.dbname,),
            )
            .fetchone()[0]
        )

    def _control_session(self) -> Any:
        if self._control is None or self._control.closed:
            self._control = self._server_or_fail().control_session()
        return self._control

    def _close_control(self) -> None:
        control, self._control = self._control, None
        if control is not None:
            control.close()

    def _server_or_fail(self) -> PostgresServer:
        assert self._server is not None, "start() first"
        return self._server

    def _until_running(self, wanted: bool, action) -> None:
        """``action`` until the server runs (or not) as ``wanted``. ``pg_ctl`` has been seen to die of SIGSEGV
        once in a while on a loaded machine, having done its job or not: the server's own status decides."""
        server = self._server_or_fail()
        problem = ""
        for _ in range(PG_CTL_ATTEMPTS):
            try:
                action()
                return
            except PostgresUnavailable as exc:
                problem = str(exc).splitlines()[0]
                server.running = server.is_running()
                if server.running == wanted:
                    return
        state = "up" if wanted else "down"
        raise SimulationDatabaseError(f"the database could not be brought {state}: {problem}")

    def destroy(self) -> None:
        self._close_control()
        if self._server is not None:
            self._server.destroy()
            self._server = None

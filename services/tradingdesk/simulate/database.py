"""The simulation's own PostgreSQL, started when its fault schedule takes the database down.

The desk of a simulation keeps its state in SQLite files of the run directory unless the schedule has a
``database_down`` fault: then the run starts a PostgreSQL cluster of its own (``runtime/local_postgres.py``:
initdb into a temporary directory, loopback, a free port) and the desk's five services use it through
``TD_DSN``, one schema each, as they would on Kubernetes. Nothing else uses that cluster, so taking it down
touches no other desk, test or engineer's database; a ``TD_DSN`` the caller has set is not used (it could be
shared).

``down`` stops the server the way a database crash or a failover looks to its clients: every session is cut at
once (``pg_ctl stop -m immediate``, no shutdown checkpoint) and new connections are refused until ``up`` starts it
again on the same port, running crash recovery from the WAL. Committed transactions survive (``fsync=on``),
so anything the desk acknowledged must still be there. A hang (a network partition, where packets vanish
and connections neither fail nor answer) is not simulated yet: the desk would only notice it after libpq's
keepalive and ``tcp_user_timeout`` (30 s, ``storage/db.py``).
"""

from __future__ import annotations

from tradingdesk.runtime.local_postgres import PostgresServer, PostgresUnavailable, find_postgres

PG_CTL_ATTEMPTS = 3


class SimulationDatabaseError(RuntimeError):
    """The simulation's own PostgreSQL cannot be started here; the message says why."""


class SimulationDatabase:
    """One private PostgreSQL cluster for one run: ``start``, ``down``/``up`` as often as the schedule says,
    ``destroy`` at the end (the cluster and its directory go)."""

    def __init__(self) -> None:
        self._server: PostgresServer | None = None

    @property
    def dsn(self) -> str:
        return self._server_or_fail().dsn

    def start(self) -> SimulationDatabase:
        try:
            self._server = PostgresServer(find_postgres(auto_install=False))
            self._server.start()
        except PostgresUnavailable as exc:
            self.destroy()
            raise SimulationDatabaseError(
                f"a database_down fault needs a PostgreSQL of the simulation's own, which did not start: {exc}"
            ) from None
        return self

    def down(self) -> None:
        """Cut every session and refuse new ones, like a crashed database server."""
        self._until_running(False, self._server_or_fail().crash)

    def up(self) -> None:
        """Start the server again on its port (crash recovery from the WAL); returns once it takes connections."""
        self._until_running(True, self._server_or_fail().restart)

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
        if self._server is not None:
            self._server.destroy()
            self._server = None

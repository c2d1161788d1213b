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

UP_ATTEMPTS = 3


class SimulationDatabaseError(RuntimeError):
    """The simulation's own PostgreSQL cannot be started here; the message says why."""


class SimulationDatabase:
    """One private PostgreSQL cluster for one run: ``start``, ``down``/``up`` as often as the schedule says,
    ``destroy`` at the end (the cluster and its directory go)."""

    def __init__(self) -> None:
        self._server: PostgresServer | None = None

    @property
    def dsn(self) -> str:
        assert self._server is not None, "start() first"
        return self._server.dsn

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
        assert self._server is not None
        self._server.crash()

    def up(self) -> None:
        """Start the server again on its port (crash recovery from the WAL); returns once it takes connections.
        ``pg_ctl start`` is tried a few times: on a loaded machine it has been seen to fail once without cause."""
        assert self._server is not None
        for attempt in range(1, UP_ATTEMPTS + 1):
            try:
                self._server.restart()
                return
            except PostgresUnavailable as exc:
                if attempt == UP_ATTEMPTS:
                    raise SimulationDatabaseError(f"the database did not come back: {exc}") from None

    def destroy(self) -> None:
        if self._server is not None:
            self._server.destroy()
            self._server = None

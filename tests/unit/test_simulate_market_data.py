"""The verdict's market data lines on hand-made records: an order is judged by the time of the market data its
reference was checked against (its ``pending_new``'s ``reference_ns``) and by the last tape event of its symbol,
each against the reference's max age (exactly the bound is fresh, one ns past it is stale), and a stretch of tape
without any event is a gap past recovery unless the fault schedule took the data away."""

from __future__ import annotations

from tradingdesk.simulate.market_data import Outage, bounds, judge, outages_of, recorder_kills

S = 1_000_000_000
MAX_AGE = 5 * S
BOUND = 5 * S
WINDOW = (100 * S, 200 * S)


def steady(symbol: str = "AAPL", *, every: int = S, start: int = 90 * S, end: int = 210 * S) -> list[tuple[int, str]]:
    return [(ts, symbol) for ts in range(start, end, every)]


def run(tape, orders=(), **kw):
    """``orders``: (ts, symbol, client order id) with a reference of the order's own time (fresh), or with a fourth
    element, its ``reference_ns``."""
    orders = [o if len(o) == 4 else (*o, o[0]) for o in orders]
    kw.setdefault("reference_max_age_ns", MAX_AGE)
    return judge(tape, orders, window=WINDOW, max_age_ns=MAX_AGE, gap_bound_ns=BOUND, **kw)


def test_an_order_checked_against_old_market_data_is_stale_though_the_tape_was_live() -> None:
    """What routing did on a loaded machine: its market data stream fell behind the feeds service (up to 140
    market seconds), it stamped what it read with its own receipt, and the gate took prices tens of seconds old for
    fresh. Compliance read the same stream in time, so its tape had the symbol live: judged by the tape alone, the
    order passed. Its own record says how old the data the gate checked was."""
    tape = steady("AAPL")  # the symbol ticked every second, the tape recorded each tick
    late = (150 * S, "AAPL", "read-late", 150 * S - 30 * S)  # the gate checked it against data 30 s old
    found = run(tape, [late, (151 * S, "AAPL", "fresh", 149 * S)])
    assert found.stale_orders == ["read-late"]
    assert found.stale_by_reference == 1


def test_the_reference_time_is_judged_exactly_at_the_gates_bound() -> None:
    tape = steady("AAPL")
    orders = [(150 * S, "AAPL", "at-bound", 150 * S - MAX_AGE), (150 * S, "AAPL", "past-bound", 150 * S - MAX_AGE - 1)]
    found = run(tape, orders, reference_max_age_ns=MAX_AGE)
    assert found.stale_orders == ["past-bound"]


def test_an_order_with_no_reference_time_is_stale() -> None:
    """No evidence of the reference's age (a journal that does not record it): the line errs towards failing."""
    found = run(steady("AAPL"), [(150 * S, "AAPL", "unstamped", 0)])
    assert found.stale_orders == ["unstamped"] and found.stale_by_reference == 1


def test_the_reference_time_is_judged_while_the_recorder_was_down() -> None:
    tape = [e for e in steady() if not 140 * S <= e[0] < 160 * S]  # compliance killed at 140 s, back at 160 s
    orders = [(150 * S, "AAPL", "old", 140 * S), (151 * S, "AAPL", "fresh", 150 * S)]
    assert run(tape, orders, kills=[140 * S]).stale_orders == ["old"]


def test_a_fresh_reference_on_a_tape_that_lagged_is_still_judged_by_the_tape() -> None:
    """The day's order sim2449bbf7-s-138237: its tape (then stamped on compliance's own late receipt) showed its
    symbol over 25 market seconds old. Stamped with the feeds receipt, a tape can no longer lag like that; what it
    still shows, the verdict still counts (a reference the market data does not back)."""
    tape = [(120 * S, "PG"), (300 * S, "PG")]
    found = run(tape, [(150 * S, "PG", "unbacked", 148 * S)])
    assert found.stale_orders == ["unbacked"] and found.stale_by_reference == 0


def test_an_order_at_exactly_the_reference_age_is_fresh_and_one_ns_later_stale() -> None:
    tape = [(95 * S, "AAPL"), (300 * S, "AAPL")]
    found = run(tape, [(100 * S, "AAPL", "at-bound"), (100 * S + 1, "AAPL", "past-bound")])
    assert found.stale_orders == ["past-bound"]
    assert found.orders_judged == 2


def test_an_order_in_a_symbol_the_tape_never_saw_is_stale_and_fresh_symbols_pass() -> None:
    tape = steady("AAPL")
    found = run(tape, [(150 * S, "AAPL", "fresh"), (150 * S, "MSFT", "never-seen")])
    assert found.stale_orders == ["never-seen"]


def test_an_order_stamped_with_a_ticks_own_time_sees_that_tick() -> None:
    tape = [(90 * S, "AAPL"), (120 * S, "AAPL")]
    found = run(tape, [(120 * S, "AAPL", "same-ns"), (119 * S, "AAPL", "before-the-tick")])
    assert found.stale_orders == ["before-the-tick"]


def test_orders_while_the_recorder_was_down_are_not_judged_until_one_age_after_it_resumed() -> None:
    tape = [e for e in steady() if not 140 * S <= e[0] < 160 * S]  # compliance killed at 140 s, back at 160 s
    orders = [(150 * S, "MSFT", "down"), (165 * S, "MSFT", "within-age"), (166 * S, "MSFT", "judged")]
    found = run(tape, orders, kills=[140 * S])
    assert found.stale_orders == ["judged"]
    assert found.orders_judged == 3  # by their reference's time, all of them; by the tape, the last only


def test_a_gap_just_at_the_bound_passes_and_one_ns_longer_fails() -> None:
    tape = [*steady(end=150 * S), (150 * S - S + BOUND, "AAPL"), *steady(start=155 * S)]
    assert run(tape).gaps == []
    tape = [*steady(end=150 * S), (150 * S - S + BOUND + 1, "AAPL"), *steady(start=155 * S)]
    found = run(tape)
    assert [(a // S, b - a) for a, b in found.gaps] == [(149, BOUND + 1)]
    assert found.longest_gap_ns == BOUND + 1


def test_gaps_are_measured_within_the_window_including_its_edges() -> None:
    found = run(steady(start=110 * S, end=190 * S))
    assert [(a // S, b // S) for a, b in found.gaps] == [(100, 110), (189, 200)]
    assert run(steady(start=50 * S, end=100 * S)).gaps == [(100 * S, 200 * S)]  # the tape stopped before it


def test_a_gap_while_every_line_was_down_is_excused_only_up_to_the_bound_after_a_line_came_back() -> None:
    lines_of = {"vendor-a": {"A", "B"}}
    log = [
        {
            "market_ns": 140 * S,
            "kind": "feed_line_down",
            "what": "line disabled",
            "target": {"feed": "vendor-a", "line": "A"},
        },
        {
            "market_ns": 141 * S,
            "kind": "feed_line_down",
            "what": "line disabled",
            "target": {"feed": "vendor-a", "line": "B"},
        },
        {
            "market_ns": 160 * S,
            "kind": "feed_line_down",
            "what": "line enabled",
            "target": {"feed": "vendor-a", "line": "B"},
        },
    ]
    outages = outages_of(log, lines_of=lines_of)
    assert outages == [Outage(141 * S, 160 * S)]
    recovered = [e for e in steady() if not 141 * S <= e[0] < 160 * S + BOUND]
    found = run(recovered, outages=outages)
    assert (found.gaps, [(a // S, b // S) for a, b in found.excused]) == ([], [(140, 165)])
    late = [e for e in steady() if not 141 * S <= e[0] <= 160 * S + BOUND]  # back one second too late
    assert [(a // S, b // S) for a, b in run(late, outages=outages).gaps] == [(140, 166)]


def test_one_line_down_excuses_nothing() -> None:
    log = [
        {
            "market_ns": 140 * S,
            "kind": "feed_line_down",
            "what": "line disabled",
            "target": {"feed": "vendor-a", "line": "A"},
        }
    ]
    assert outages_of(log, lines_of={"vendor-a": {"A", "B"}}) == []
    tape = [e for e in steady() if not 141 * S <= e[0] < 150 * S]
    assert len(run(tape, outages=outages_of(log, lines_of={"vendor-a": {"A", "B"}})).gaps) == 1


def test_a_kill_of_feeds_excuses_the_gap_that_holds_it_and_no_other() -> None:
    log = [
        {"market_ns": 140 * S, "kind": "sigkill", "what": "killed", "target": {"service": "feeds"}, "pid": 1},
        {"market_ns": 170 * S, "kind": "sigkill", "what": "killed", "target": {"service": "routing"}, "pid": 2},
        {"market_ns": 180 * S, "kind": "sigkill", "what": "killed", "target": {"service": "compliance"}, "pid": 3},
    ]
    outages = outages_of(log, lines_of={"vendor-a": {"A"}})
    assert outages == [Outage(140 * S, None), Outage(180 * S, None)]
    assert recorder_kills(log) == [180 * S]
    tape = [e for e in steady() if not 140 * S < e[0] < 155 * S and not 120 * S < e[0] < 130 * S]
    found = run(tape, outages=outages)
    assert [(a // S, b // S) for a, b in found.gaps] == [(120, 130)]
    assert [(a // S, b // S) for a, b in found.excused] == [(140, 155)]


def test_the_bounds_are_the_desks_own_plus_a_wall_second_of_receipt_slack_in_market_time() -> None:
    assert bounds(reference_max_age_ms=5_000, stale_after_ms=[5_000, 250], speed=1) == (6 * S, 6 * S)
    assert bounds(reference_max_age_ms=2_000, stale_after_ms=[300, 250], speed=20) == (22 * S, 20 * S + 300_000_000)


def test_a_kill_of_feeds_excuses_the_gap_that_starts_just_after_it_and_no_later_one() -> None:
    """Events in flight when feeds died reach the tape a moment after the kill (at 100x, 70 ms of wall time is 7 s
    of market time): the restart's gap then starts just after the kill, still the kill's. One that starts past the
    bound after it is not."""
    log = [{"market_ns": 140 * S, "kind": "sigkill", "what": "killed", "target": {"service": "feeds"}, "pid": 1}]
    outages = outages_of(log, lines_of={"vendor-a": {"A"}})
    just_after = [e for e in steady() if not 143 * S < e[0] < 160 * S]  # the last event in flight at 143 s
    found = run(just_after, outages=outages)
    assert found.gaps == [] and [(a // S, b // S) for a, b in found.excused] == [(143, 160)]
    later = [e for e in steady() if not 146 * S < e[0] < 160 * S]  # 6 s after the kill: past the 5 s bound
    assert [(a // S, b // S) for a, b in run(later, outages=outages).gaps] == [(146, 160)]

"""Rules of the markets the desk trades in: exchange calendars (sessions, holidays, early closes), per-symbol
trading status (halts and resumptions), Limit Up-Limit Down bands and the market-wide circuit breaker.

Everything here is pure: time is integer nanoseconds since the Unix epoch, prices are fixed-point ints, and
nothing reads a clock except ``MarketClock``, which is handed one. Only ``calendar_source`` touches the
calendar library, once, when a desk starts.
"""

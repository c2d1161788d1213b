"""``tradingdesk simulate``: a trading session replayed on an embedded desk, with strategy clients, a probe,
a fault schedule, and a verdict computed afterwards from the record alone (docs/simulation.md).

Modules: ``faults`` (the schedule file, checked before anything starts), ``clients`` (the order flow and the
probe, over gRPC), ``injector`` (applies each fault to the running desk), ``verdict`` (the record read back),
``run`` (one simulation from start to report). The CLI wires them; nothing here is imported by the services.
"""

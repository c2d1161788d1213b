"""Market data: synthetic and recorded sessions, replayed and WebSocket feed lines, A/B arbitration with
failover, outlier filtering, the market state, and the MarketDataService that serves it all over gRPC.

The pure parts (events, arbitration, line monitoring, quality, state, replay, the wire format) know nothing of
gRPC; ``service.py`` and its protobuf adapters (``fanout.py``, ``messages.py``, ``status.py``) are the edge.
Import the module you need: this package imports nothing, so reading an event type never loads a server.
"""

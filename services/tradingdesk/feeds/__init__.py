"""Market data: synthetic and recorded sessions, replayed and WebSocket feed lines, A/B arbitration with
failover, outlier filtering, the market state and the MarketDataService that serves it all over gRPC."""

from tradingdesk.feeds.arbitration import Gap, LineArbitrator, Loss
from tradingdesk.feeds.events import QUOTE, TRADE, FeedMessage, Heartbeat, Malformed, MarketEvent
from tradingdesk.feeds.fanout import Subscriber, SubscriberStats
from tradingdesk.feeds.feed import FeedHandler
from tradingdesk.feeds.monitor import LineHealth, LineMonitor
from tradingdesk.feeds.quality import OutlierFilter
from tradingdesk.feeds.recording import RecordingFormatError, read_csv, write_csv
from tradingdesk.feeds.replay import ReplayLine
from tradingdesk.feeds.service import MarketDataService
from tradingdesk.feeds.state import FeedInfo, MarketState, SymbolSnapshot, SymbolState
from tradingdesk.feeds.synthetic import SessionModel, generate_session, generate_symbol

__all__ = [
    "QUOTE",
    "TRADE",
    "FeedHandler",
    "FeedInfo",
    "FeedMessage",
    "Gap",
    "Heartbeat",
    "LineArbitrator",
    "LineHealth",
    "LineMonitor",
    "Loss",
    "Malformed",
    "MarketDataService",
    "MarketEvent",
    "MarketState",
    "OutlierFilter",
    "RecordingFormatError",
    "ReplayLine",
    "SessionModel",
    "Subscriber",
    "SubscriberStats",
    "SymbolSnapshot",
    "SymbolState",
    "generate_session",
    "generate_symbol",
    "read_csv",
    "write_csv",
]

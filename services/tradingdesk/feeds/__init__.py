"""Market data: synthetic and recorded sessions, replayed feed lines, A/B arbitration, the market state and
the MarketDataService that serves it all over gRPC."""

from tradingdesk.feeds.arbitration import Gap, LineArbitrator
from tradingdesk.feeds.events import QUOTE, TRADE, FeedMessage, MarketEvent
from tradingdesk.feeds.fanout import Subscriber, SubscriberStats
from tradingdesk.feeds.recording import RecordingFormatError, read_csv, write_csv
from tradingdesk.feeds.replay import ReplayLine
from tradingdesk.feeds.service import MarketDataService
from tradingdesk.feeds.state import FeedInfo, MarketState, SymbolSnapshot, SymbolState
from tradingdesk.feeds.synthetic import SessionModel, generate_session, generate_symbol

__all__ = [
    "QUOTE",
    "TRADE",
    "FeedInfo",
    "FeedMessage",
    "Gap",
    "LineArbitrator",
    "MarketDataService",
    "MarketEvent",
    "MarketState",
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

"""Spec of market conduct: where instruments are listed, market hours, the market-wide circuit breaker,
surveillance thresholds and CAT reporting. docs/compliance.md lists each control and the rule it answers."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator, model_validator

from tradingdesk.spec.base import Model
from tradingdesk.spec.types import DecimalStr

EXCHANGES = (
    "AIXK", "ARCX", "ASEX", "BATS", "BVMF", "CMES", "IEPA", "OOTC", "XAMS", "XASE", "XASX", "XBDA", "XBEL", "XBKK",
    "XBOG", "XBOM", "XBRA", "XBRU", "XBSE", "XBUD", "XBUE", "XCBF", "XCSE", "XCYS", "XDUB", "XDUS", "XEEE", "XETR",
    "XEUR", "XFRA", "XHAM", "XHEL", "XHKG", "XICE", "XIDX", "XIST", "XJSE", "XKAR", "XKLS", "XKRX", "XLIM", "XLIS",
    "XLIT", "XLJU", "XLON", "XLUX", "XMAD", "XMEX", "XMIL", "XMOS", "XNAS", "XNYS", "XNZE", "XOSL", "XPAR", "XPHS",
    "XPRA", "XRIS", "XSAU", "XSES", "XSGO", "XSHG", "XSTO", "XSTU", "XSWX", "XTAE", "XTAI", "XTAL", "XTKS", "XTSE",
    "XTSX", "XWAR", "XWBO", "XZAG",
)  # fmt: skip
"""ISO 10383 market identifier codes with a calendar in ``exchange_calendars`` (a test checks each one)."""

ExchangeCode = Literal[EXCHANGES]  # type: ignore[valid-type]
OWNER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class ListingSpec(Model):
    """Where an instrument is listed."""

    exchange: ExchangeCode = "XNYS"
    """Market identifier code (ISO 10383) of the listing exchange; its calendar (sessions, holidays, early
    closes) is the instrument's trading calendar."""
    luld_tier: Literal[1, 2] = 1
    """Limit Up-Limit Down tier: 1 for S&P 500 and Russell 1000 stocks and some ETPs (5% bands above $3),
    2 for the other NMS stocks (10% bands above $3)."""


class MarketHoursSpec(Model):
    """The trading day around each exchange's regular session."""

    extended_hours: bool = False
    """Whether orders may be entered in the pre-open and post-close sessions as well as the regular one."""
    pre_open_minutes: int = Field(default=330, ge=0, le=720)
    """Length of the pre-open session before the regular open (330 minutes: from 04:00 New York time)."""
    post_close_minutes: int = Field(default=240, ge=0, le=720)
    """Length of the post-close session after the regular close (240 minutes: until 20:00 New York time)."""


class MarketWideBreakerSpec(Model):
    """Market-wide circuit breaker (SEC-approved MWCB rules: levels 1, 2, 3 at 7%, 13% and 20% declines)."""

    index_symbol: str = Field(default="", pattern=r"^([A-Z][A-Z0-9.\-]{0,15})?$")
    """Instrument whose price stands for the index (e.g. SPY for the S&P 500); empty turns the breaker off."""
    reference_price: DecimalStr = Decimal("0")
    """The index's prior closing value the declines are measured from (0: the first trade of the session)."""


class BeneficialOwnerSpec(Model):
    """Accounts that belong to the same beneficial owner: a trade between two of them changes no ownership."""

    name: str = Field(pattern=OWNER_PATTERN)
    """Name of the owner (a fund, a person, the firm itself)."""
    accounts: list[str] = Field(min_length=1, max_length=10_000)
    """Accounts of the desk the owner holds; an account belongs to at most one owner."""


class WashTradeSpec(Model):
    """Wash trades: the same beneficial owner buying and selling the same symbol at about the same price."""

    window_ms: int = Field(default=60_000, ge=1, le=86_400_000)
    """A buy and a sell of one owner in one symbol this close in time are a potential wash trade."""
    price_band_bps: int = Field(default=10, ge=0, le=10_000)
    """...when their prices are at most this far apart, in basis points of the earlier price."""


class SpoofingSpec(Model):
    """Spoofing and layering: large orders near the touch, cancelled once small orders on the other side
    have executed."""

    near_touch_bps: int = Field(default=10, ge=0, le=10_000)
    """An order is near the touch when its price is at most this far from the best price on its side when
    it was placed, in basis points."""
    size_ratio: int = Field(default=5, ge=1, le=1_000_000)
    """An order is large when its quantity is at least this many times the quantity executed on the other
    side."""
    lookback_ms: int = Field(default=10_000, ge=1, le=3_600_000)
    """Large orders placed at most this long before the execution on the other side count."""
    cancel_within_ms: int = Field(default=5_000, ge=1, le=3_600_000)
    """...and are cancelled at most this long after it."""
    layering_levels: int = Field(default=3, ge=2, le=100)
    """Cancelled large orders at this many distinct prices make the alert layering rather than spoofing."""


class OrderToTradeSpec(Model):
    """Excessive order-to-trade ratio (MiFID II RTS 9): messages per trade of one account."""

    window_s: int = Field(default=3_600, ge=1, le=86_400)
    """Tumbling window the ratio is counted in."""
    max_ratio: int = Field(default=50, ge=1, le=1_000_000)
    """More messages (new orders, modifies, cancels) per trade than this in a window is an alert."""
    min_messages: int = Field(default=200, ge=1, le=10_000_000)
    """Messages an account must send in the window before its ratio is judged."""


class MarkingCloseSpec(Model):
    """Marking the close: trading in the last minutes of the session that pushes the closing price."""

    window_minutes: int = Field(default=10, ge=1, le=120)
    """The closing window: this many minutes before the regular close."""
    min_volume_share_bps: int = Field(default=2_000, ge=1, le=10_000)
    """An owner's share of the symbol's volume in the window, in basis points, from which it is examined."""
    min_move_bps: int = Field(default=20, ge=1, le=10_000)
    """...and an alert when the last price moved at least this far over the window in the direction of the
    owner's net trading, in basis points."""


class SurveillanceSpec(Model):
    """Thresholds of the surveillance detectors and the accounts they treat as one owner."""

    beneficial_owners: list[BeneficialOwnerSpec] = Field(default_factory=list, max_length=10_000)
    """Accounts linked by beneficial ownership; an account not listed is its own owner."""
    wash_trades: WashTradeSpec = Field(default_factory=WashTradeSpec)
    """Wash trade detector."""
    spoofing: SpoofingSpec = Field(default_factory=SpoofingSpec)
    """Spoofing and layering detector."""
    order_to_trade: OrderToTradeSpec = Field(default_factory=OrderToTradeSpec)
    """Order-to-trade ratio detector."""
    marking_close: MarkingCloseSpec = Field(default_factory=MarkingCloseSpec)
    """Marking-the-close detector."""


class SelfMatchSpec(Model):
    """Self-match prevention: two orders of the same account (or of the desk) never trade with each other."""

    scope: Literal["account", "desk", "off"] = "account"
    """Whose orders must not meet: those of one account (the exchanges' usual SMP id), any two of the desk, or
    nobody's (off)."""
    mode: Literal["cancelNewest", "cancelOldest", "cancelBoth", "decrementAndCancel"] = "cancelNewest"
    """What happens when they would: the incoming order is cancelled (cancelNewest), the resting one
    (cancelOldest), both (cancelBoth), or both are reduced by the smaller quantity and the one left with
    nothing is cancelled (decrementAndCancel)."""


class ClockSpec(Model):
    """Which time the market rules follow: sessions, DAY and GTD expiry, LULD doubling, the circuit breaker."""

    source: Literal["auto", "wall", "replay"] = "auto"
    """wall: the exchanges' real time (production). replay: trading days played back from their open, one
    per pass of the replay, starting when the desk starts, at the replay's speed. auto: replay when every feed
    is a replay feed, wall otherwise."""
    replay_start: str = Field(default="", pattern=r"^(\d{4}-\d{2}-\d{2})?$")
    """The trading day the replay clock starts on (YYYY-MM-DD, a session of the first instrument's exchange);
    empty: today's session there, or the last one before today."""

    @field_validator("replay_start")
    @classmethod
    def _a_date(cls, value: str) -> str:
        if value:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
        return value


class CatSpec(Model):
    """Consolidated Audit Trail reporting."""

    reporter_imid: str = Field(default="TDSK", pattern=r"^[A-Z0-9]{1,8}$")
    """The firm's CAT Reporter IMID, written into every exported event."""
    department_type: Literal["A", "T", "O"] = "T"
    """CAT deptType of the desk: A agency, T trading (proprietary), O other."""
    account_holder_type: Literal["A", "E", "F", "I", "O", "V", "P", "X"] = "A"
    """CAT accountHolderType of the desk's accounts (A institutional customer, P other proprietary, ...)."""


class ConductSpec(Model):
    market_hours: MarketHoursSpec = Field(default_factory=MarketHoursSpec)
    """Pre-open and post-close sessions around each exchange's regular session."""
    market_wide_breaker: MarketWideBreakerSpec = Field(default_factory=MarketWideBreakerSpec)
    """Market-wide circuit breaker levels measured on an index instrument."""
    surveillance: SurveillanceSpec = Field(default_factory=SurveillanceSpec)
    """Wash trade, spoofing and layering, order-to-trade and marking-the-close detection."""
    cat: CatSpec = Field(default_factory=CatSpec)
    """Identifiers written into the CAT export."""
    self_match_prevention: SelfMatchSpec = Field(default_factory=SelfMatchSpec)
    """Self-match prevention in the risk gate and the venues."""
    clock: ClockSpec = Field(default_factory=ClockSpec)
    """The time the market rules follow (the exchanges' real time, or the replay's)."""

    @model_validator(mode="after")
    def _owners_unique(self) -> ConductSpec:
        owners = self.surveillance.beneficial_owners
        problems = []
        if dups := sorted(n for n, c in Counter(o.name for o in owners).items() if c > 1):
            problems.append(f"surveillance.beneficialOwners[].name: must be unique, repeated: {', '.join(dups)}")
        held = Counter(a for o in owners for a in set(o.accounts))
        if dups := sorted(a for a, c in held.items() if c > 1):
            problems.append(f"surveillance.beneficialOwners[].accounts: in more than one owner: {', '.join(dups)}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def cross_check(self, symbols: set[str], accounts: set[str]) -> list[str]:
        """Problems against the rest of the desk, as ``spec.conduct.<field>: ...`` (TradingDeskSpec calls it)."""
        out = []
        index = self.market_wide_breaker.index_symbol
        if index and index not in symbols:
            out.append(f"spec.conduct.marketWideBreaker.indexSymbol: {index!r} is not an instrument of the desk")
        for i, owner in enumerate(self.surveillance.beneficial_owners):
            for j, account in enumerate(owner.accounts):
                if account not in accounts:
                    out.append(
                        f"spec.conduct.surveillance.beneficialOwners[{i}].accounts[{j}]: {account!r} is not an "
                        "account of the desk"
                    )
        return out

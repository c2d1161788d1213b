"""spec.conduct and instruments[].listing: defaults, and every bad value refused with the field named."""

from __future__ import annotations

from typing import Any

import pytest

from tradingdesk.spec import SpecError, parse_desk


def desk(conduct: dict[str, Any] | None = None, listing: dict[str, Any] | None = None) -> dict[str, Any]:
    instrument: dict[str, Any] = {"symbol": "AAPL"}
    if listing is not None:
        instrument["listing"] = listing
    spec: dict[str, Any] = {
        "instruments": [instrument, {"symbol": "SPY"}],
        "accounts": [{"name": "A1"}, {"name": "A2"}],
        "feeds": [{"name": "f"}],
        "venues": [{"name": "v"}],
    }
    if conduct is not None:
        spec["conduct"] = conduct
    return {"apiVersion": "tradingdesk.io/v1alpha1", "kind": "TradingDesk", "metadata": {"name": "d"}, "spec": spec}


def test_defaults() -> None:
    d = parse_desk(desk())
    assert d.spec.instruments[0].listing.exchange == "XNYS" and d.spec.instruments[0].listing.luld_tier == 1
    c = d.spec.conduct
    assert not c.market_hours.extended_hours and c.market_hours.pre_open_minutes == 330
    assert c.surveillance.spoofing.size_ratio == 5 and c.cat.reporter_imid == "TDSK"
    assert (c.self_match_prevention.scope, c.self_match_prevention.mode) == ("account", "cancelNewest")
    assert (c.clock.source, c.clock.replay_start) == ("auto", "")


def test_linked_accounts_and_index_are_accepted() -> None:
    conduct = {
        "marketWideBreaker": {"indexSymbol": "SPY", "referencePrice": "5000.25"},
        "surveillance": {"beneficialOwners": [{"name": "fund-x", "accounts": ["A1", "A2"]}]},
    }
    d = parse_desk(desk(conduct, {"exchange": "XNAS", "luldTier": 2}))
    assert d.spec.conduct.surveillance.beneficial_owners[0].accounts == ["A1", "A2"]


@pytest.mark.parametrize(
    ("conduct", "listing", "why"),
    [
        (None, {"exchange": "NYSE"}, "exchange"),
        (None, {"luldTier": 3}, "luldTier"),
        ({"marketWideBreaker": {"indexSymbol": "QQQ"}}, None, "spec.conduct.marketWideBreaker.indexSymbol: 'QQQ'"),
        (
            {"surveillance": {"beneficialOwners": [{"name": "f", "accounts": ["A1", "NOPE"]}]}},
            None,
            "spec.conduct.surveillance.beneficialOwners[0].accounts[1]: 'NOPE' is not an account of the desk",
        ),
        (
            {
                "surveillance": {
                    "beneficialOwners": [{"name": "f", "accounts": ["A1"]}, {"name": "g", "accounts": ["A1"]}]
                }
            },
            None,
            "beneficialOwners[].accounts: in more than one owner: A1",
        ),
        (
            {
                "surveillance": {
                    "beneficialOwners": [{"name": "f", "accounts": ["A1"]}, {"name": "f", "accounts": ["A2"]}]
                }
            },
            None,
            "beneficialOwners[].name: must be unique, repeated: f",
        ),
        ({"surveillance": {"spoofing": {"layeringLevels": 1}}}, None, "layeringLevels"),
        ({"marketHours": {"preOpenMinutes": 721}}, None, "preOpenMinutes"),
        ({"cat": {"reporterImid": "td sk"}}, None, "reporterImid"),
        ({"surveillance": {"washTrades": {"windowMs": 0}}}, None, "windowMs"),
        ({"selfMatchPrevention": {"mode": "cancelRandom"}}, None, "selfMatchPrevention.mode"),
        ({"selfMatchPrevention": {"scope": "strategy"}}, None, "selfMatchPrevention.scope"),
        ({"clock": {"source": "atomic"}}, None, "clock.source"),
        ({"clock": {"replayStart": "2024-02-30"}}, None, "replayStart: '2024-02-30' is not a date"),
    ],
)
def test_bad_values_are_refused_by_name(
    conduct: dict[str, Any] | None, listing: dict[str, Any] | None, why: str
) -> None:
    with pytest.raises(SpecError, match=why.replace("[", r"\[").replace("]", r"\]")):
        parse_desk(desk(conduct, listing))

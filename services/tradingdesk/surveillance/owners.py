"""Beneficial ownership: which accounts surveillance treats as one owner (spec.conduct.surveillance)."""

from __future__ import annotations

from collections.abc import Iterable

from tradingdesk.spec.conduct import BeneficialOwnerSpec


class Owners:
    """Account to beneficial owner; an account linked to no owner is its own."""

    def __init__(self, owners: Iterable[BeneficialOwnerSpec] = ()) -> None:
        self._owner = {account: o.name for o in owners for account in o.accounts}

    def of(self, account: str) -> str:
        return self._owner.get(account, account)

"""Execution quality (transaction cost analysis): per order, the arrival price, implementation shortfall,
interval VWAP, effective spread and fees; per venue, the fields of SEC Rule 605 (fill rate, price improvement,
effective over quoted spread). Pure computations on ``core.activity`` records."""

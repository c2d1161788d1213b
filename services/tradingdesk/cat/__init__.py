"""CAT-style export: every order event of a trade date with the Consolidated Audit Trail's Industry Member
event type codes, nanosecond New York timestamps and lineage from parent to child orders, validated against
the JSON schema the package ships (``tradingdesk/data/cat-events.schema.json``)."""

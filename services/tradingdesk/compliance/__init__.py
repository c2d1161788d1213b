"""The compliance service: the audit trail of every order event."""

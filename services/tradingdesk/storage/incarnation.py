"""The journal's incarnation: which history a journal seq belongs to."""

from __future__ import annotations

from sqlalchemy import Engine, select

from .schema import journal_meta


def journal_incarnation(engine: Engine) -> str:
    """The incarnation the migrations gave this database (``migrate`` must have run)."""
    with engine.connect() as conn:
        value = conn.execute(select(journal_meta.c.incarnation).where(journal_meta.c.id == 1)).scalar()
    if not value:
        raise RuntimeError("the journal database has no incarnation: run the migrations first")
    return str(value)


__all__ = ["journal_incarnation"]

"""Rasa's SQL tracker store table ``events`` (read-only for us, plus deletion on erase/purge).

The one declaration of Rasa's tables in the project: the live handoff's transcript, the
reports, the trainer's inbox and the voice rating all query through it.

Rasa creates the table itself (rasa.core.tracker_store.SQLTrackerStore.SQLEvent); the copy
here lets SQLAlchemy query it and lets tests create it in a scratch database. For ``slot``
events Rasa stores the slot's name in ``action_name``, so slots can be filtered in SQL.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, cast, func, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

metadata = MetaData()
RASA_EVENTS = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)


def has_events_table(bind: Engine | Connection) -> bool:
    return inspect(bind).has_table("events")


def create_events_table(engine: Engine) -> None:
    """Create Rasa's table where Rasa has not run yet (scratch databases, tests, benchmarks)."""
    metadata.create_all(engine, checkfirst=True)


def json_text(dialect: str, column: ColumnElement, *path: str | int) -> ColumnElement:
    """The text at ``path`` inside a JSON text column, extracted by the database."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        expr = cast(column, JSONB)
        for step in path[:-1]:
            expr = expr[step]
        return expr[path[-1]].astext
    json_path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    return func.json_extract(column, json_path)

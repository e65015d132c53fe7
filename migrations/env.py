"""Alembic environment: the URL comes from the project settings (or -x url=...)."""

from alembic import context

import servicecenter.models  # noqa: F401  (registers the tables)
from servicecenter.db import Base, get_engine

target_metadata = Base.metadata


def run_migrations() -> None:
    url = context.get_x_argument(as_dictionary=True).get("url")
    engine = get_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()

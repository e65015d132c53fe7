"""trainer workbench (issue 5): log of intents added or renamed in the console

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trainer_intent_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("intent", sa.String(64), nullable=False),
        sa.Column("previous_name", sa.String(64)),
        sa.Column("reaction", sa.String(64)),
        sa.Column("examples", sa.Integer, nullable=False),
        sa.Column("files", sa.String(1000), nullable=False),
        sa.Column("changed_by", sa.String(64), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_trainer_intent_changes_intent", "trainer_intent_changes", ["intent"])


def downgrade() -> None:
    op.drop_index("ix_trainer_intent_changes_intent", table_name="trainer_intent_changes")
    op.drop_table("trainer_intent_changes")

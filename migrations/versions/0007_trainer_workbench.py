"""trainer workbench (issue 5): NLU inbox, decisions, conversation tags, knowledge drafts,
training jobs and model activations

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "trainer_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Integer, nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        _ts("sent_at"),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("redactions", sa.JSON, nullable=False),
        sa.Column("group_key", sa.String(64), nullable=False),
        sa.Column("intent", sa.String(128)),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("ranking", sa.JSON, nullable=False),
        sa.Column("service", sa.String(64)),
        sa.Column("service_start", sa.Integer),
        sa.Column("service_end", sa.Integer),
        sa.Column("bot_action", sa.String(128)),
        sa.Column("fallback", sa.Boolean, nullable=False),
        sa.Column("handoff", sa.Boolean, nullable=False),
        sa.Column("priority", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("imported_at"),
        sa.UniqueConstraint("event_id", name="uq_trainer_messages_event_id"),
    )
    op.create_index("ix_trainer_messages_conversation_id", "trainer_messages", ["conversation_id"])
    op.create_index("ix_trainer_messages_status_priority", "trainer_messages", ["status", "priority"])
    op.create_index("ix_trainer_messages_group_key", "trainer_messages", ["group_key"])
    # Covers the inbox's grouping and every filter column (index-only scans).
    op.create_index("ix_trainer_messages_inbox", "trainer_messages",
                    ["status", "group_key", "priority", "id", "confidence", "fallback", "handoff", "channel", "intent", "service", "sent_at", "conversation_id"])
    op.create_index("ix_trainer_messages_sent_at", "trainer_messages", ["sent_at"])
    op.create_index("ix_trainer_messages_intent", "trainer_messages", ["intent"])
    op.create_index("ix_trainer_messages_service", "trainer_messages", ["service"])

    op.create_table(
        "trainer_decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.Integer, sa.ForeignKey("trainer_messages.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("intent", sa.String(128)),
        sa.Column("service", sa.String(64)),
        sa.Column("service_start", sa.Integer),
        sa.Column("service_end", sa.Integer),
        sa.Column("example", sa.Text),
        sa.Column("decided_by", sa.String(64), nullable=False),
        _ts("decided_at"),
        sa.Column("written_to", sa.String(255)),
        sa.Column("note", sa.String(500)),
    )
    op.create_index("ix_trainer_decisions_message_id", "trainer_decisions", ["message_id"])
    op.create_index("ix_trainer_decisions_conversation_id", "trainer_decisions", ["conversation_id"])

    op.create_table(
        "trainer_sync_state",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("last_event_id", sa.Integer, nullable=False),
        _ts("updated_at"),
    )

    op.create_table(
        "trainer_conversation_tags",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("tag", sa.String(32), nullable=False),
        sa.Column("note", sa.String(500)),
        sa.Column("tagged_by", sa.String(64), nullable=False),
        _ts("tagged_at"),
        sa.UniqueConstraint("conversation_id", "tag", name="uq_trainer_conversation_tag"),
    )
    op.create_index("ix_trainer_conversation_tags_conversation_id", "trainer_conversation_tags",
                    ["conversation_id"])

    op.create_table(
        "trainer_kb_drafts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("service_slug", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("yaml_text", sa.Text, nullable=False),
        sa.Column("base_sha256", sa.String(64), nullable=False),
        sa.Column("diff", sa.Text, nullable=False),
        sa.Column("note", sa.String(500)),
        sa.Column("created_by", sa.String(64), nullable=False),
        _ts("created_at"),
        sa.Column("decided_by", sa.String(64)),
        _ts("decided_at", nullable=True),
        sa.UniqueConstraint("service_slug", "version", name="uq_trainer_kb_draft_version"),
    )
    op.create_index("ix_trainer_kb_drafts_service_slug", "trainer_kb_drafts", ["service_slug"])

    op.create_table(
        "trainer_jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_by", sa.String(64), nullable=False),
        _ts("created_at"),
        _ts("started_at", nullable=True),
        _ts("finished_at", nullable=True),
        sa.Column("config_name", sa.String(64), nullable=False),
        sa.Column("epochs_done", sa.Integer, nullable=False),
        sa.Column("epochs_total", sa.Integer, nullable=False),
        sa.Column("phase", sa.String(64)),
        sa.Column("pid", sa.Integer),
        sa.Column("log_path", sa.String(500)),
        sa.Column("model_path", sa.String(500)),
        sa.Column("model_sha256", sa.String(64)),
        sa.Column("evaluation", sa.JSON),
        sa.Column("gate_passed", sa.Boolean),
        sa.Column("override_by", sa.String(64)),
        sa.Column("override_reason", sa.String(500)),
        sa.Column("error", sa.String(1000)),
    )
    op.create_index("ix_trainer_jobs_model_sha256", "trainer_jobs", ["model_sha256"])

    op.create_table(
        "trainer_activations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(32), sa.ForeignKey("trainer_jobs.id"), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("model_sha256", sa.String(64), nullable=False),
        sa.Column("model_path", sa.String(500), nullable=False),
        sa.Column("previous_sha256", sa.String(64)),
        sa.Column("previous_path", sa.String(500)),
        sa.Column("activated_by", sa.String(64), nullable=False),
        _ts("activated_at"),
        sa.Column("reason", sa.String(500)),
    )


def downgrade() -> None:
    op.drop_table("trainer_activations")
    op.drop_index("ix_trainer_jobs_model_sha256", table_name="trainer_jobs")
    op.drop_table("trainer_jobs")
    op.drop_index("ix_trainer_kb_drafts_service_slug", table_name="trainer_kb_drafts")
    op.drop_table("trainer_kb_drafts")
    op.drop_index("ix_trainer_conversation_tags_conversation_id", table_name="trainer_conversation_tags")
    op.drop_table("trainer_conversation_tags")
    op.drop_table("trainer_sync_state")
    op.drop_index("ix_trainer_decisions_conversation_id", table_name="trainer_decisions")
    op.drop_index("ix_trainer_decisions_message_id", table_name="trainer_decisions")
    op.drop_table("trainer_decisions")
    for name in ("service", "intent", "sent_at", "inbox", "group_key", "status_priority", "conversation_id"):
        op.drop_index(f"ix_trainer_messages_{name}", table_name="trainer_messages")
    op.drop_table("trainer_messages")

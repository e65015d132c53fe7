"""knowledge base and handoff requests

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 16:54:24.445239
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('handoff_requests',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('conversation_id', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('service_slug', sa.String(length=64), nullable=True),
    sa.Column('department_slug', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('handoff_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handoff_requests_conversation_id'), ['conversation_id'], unique=False)

    op.create_table('kb_locations',
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('street', sa.String(length=200), nullable=False),
    sa.Column('postcode', sa.String(length=10), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('slug')
    )
    op.create_table('kb_opening_hours',
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('weekly', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=500), nullable=True),
    sa.Column('as_of', sa.String(length=50), nullable=True),
    sa.PrimaryKeyConstraint('slug')
    )
    op.create_table('kb_organisations',
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('article', sa.String(length=3), nullable=True),
    sa.Column('synonyms', sa.JSON(), nullable=False),
    sa.Column('phone', sa.String(length=64), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('web', sa.String(length=500), nullable=True),
    sa.Column('location_slug', sa.String(length=64), nullable=True),
    sa.Column('hours_slug', sa.String(length=64), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['hours_slug'], ['kb_opening_hours.slug'], ),
    sa.ForeignKeyConstraint(['location_slug'], ['kb_locations.slug'], ),
    sa.PrimaryKeyConstraint('slug')
    )
    op.create_table('kb_services',
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('teaser', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('responsible_slug', sa.String(length=64), nullable=False),
    sa.Column('location_slug', sa.String(length=64), nullable=True),
    sa.Column('hours_slug', sa.String(length=64), nullable=True),
    sa.Column('source_url', sa.String(length=500), nullable=False),
    sa.Column('as_of', sa.String(length=50), nullable=False),
    sa.Column('approved_by', sa.String(length=200), nullable=False),
    sa.Column('approved_on', sa.Date(), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hours_slug'], ['kb_opening_hours.slug'], ),
    sa.ForeignKeyConstraint(['location_slug'], ['kb_locations.slug'], ),
    sa.ForeignKeyConstraint(['responsible_slug'], ['kb_organisations.slug'], ),
    sa.PrimaryKeyConstraint('slug')
    )
    op.create_table('kb_service_fees',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('service_slug', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('amount_eur', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['service_slug'], ['kb_services.slug'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('kb_service_synonyms',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('service_slug', sa.String(length=64), nullable=False),
    sa.Column('synonym', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['service_slug'], ['kb_services.slug'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('synonym', name='uq_kb_service_synonyms_synonym')
    )



def downgrade() -> None:
    
    op.drop_table('kb_service_synonyms')
    op.drop_table('kb_service_fees')
    op.drop_table('kb_services')
    op.drop_table('kb_organisations')
    op.drop_table('kb_opening_hours')
    op.drop_table('kb_locations')
    with op.batch_alter_table('handoff_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoff_requests_conversation_id'))

    op.drop_table('handoff_requests')


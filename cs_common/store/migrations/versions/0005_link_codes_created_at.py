"""Index link codes by creation time: every request counts the codes of the last hour.

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_link_codes_created_at", "link_codes", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_link_codes_created_at", table_name="link_codes")

"""Review fixes: rejected events name their uids exactly; the install's own secret.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.get_bind()

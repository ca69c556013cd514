"""Dashboard accounts: a user who must choose a new password at the next login.

Revision ID: 0011
Revises: 0010

``users.must_change_password`` is set for an account made with a one-time password (the
first start's owner, ``shoptrack users create --generate-password``); while it is set,
the dashboard opens only the form that changes the password.  Existing users keep the
passwords they chose (false).
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.add_column("users", sa.Column("must_change_password", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))

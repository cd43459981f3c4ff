"""answers range over any instrument's options, not PHQ-9's 0-3

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each instrument's data says which answers an item takes (assessment_core/instruments.py),
# checked before any write; the table keeps only the API's outer bound (models.OPTION_VALUE),
# so that a new instrument whose options run past 3 (WHO-5's 0-5) needs no migration.


def upgrade() -> None:
    # Added NOT VALID, then validated: the check of the rows already there runs without the
    # lock that would stop every answer being saved meanwhile.
    op.drop_constraint(op.f("ck_responses_answer_range"), "responses", type_="check")
    op.execute("ALTER TABLE responses ADD CONSTRAINT ck_responses_answer_range "
               "CHECK (answer BETWEEN 0 AND 100) NOT VALID")
    op.execute("ALTER TABLE responses VALIDATE CONSTRAINT ck_responses_answer_range")


def downgrade() -> None:
    # Fails, as it should, once an instrument has stored an answer above 3.
    op.drop_constraint(op.f("ck_responses_answer_range"), "responses", type_="check")
    op.create_check_constraint(op.f("ck_responses_answer_range"), "responses",
                               "answer BETWEEN 0 AND 3")

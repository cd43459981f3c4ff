from __future__ import annotations

import pytest

from assessment_core.instruments import GAD7, INSTRUMENTS, PHQ9, Instrument
from assessment_core.scoring import (
    IncompleteAnswers,
    InvalidAnswer,
    check_answer,
    score,
    severity_for,
)


def answers_totalling(
    instrument: Instrument, total: int, safety: int | None = None
) -> dict[int, int]:
    """Scored answers that add up to `total`; the safety item fixed to `safety` when given."""
    answers = dict.fromkeys(instrument.scored_ids, 0)
    fixed = instrument.safety_item if safety is not None else None
    if fixed is not None and safety is not None:
        answers[fixed] = safety
        total -= safety
    for question_id in instrument.scored_ids:
        if question_id == fixed:
            continue
        answers[question_id] = min(3, total)
        total -= answers[question_id]
    assert total == 0, "total not reachable"
    return answers


@pytest.mark.parametrize(
    ("total", "band"),
    [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"),
     (14, "moderate"), (15, "moderately severe"), (19, "moderately severe"), (20, "severe"),
     (27, "severe")],
)
def test_phq9_band_edges(total: int, band: str) -> None:
    assert severity_for(PHQ9, total) == band
    result = score(PHQ9, answers_totalling(PHQ9, total))
    assert (result.total, result.severity) == (total, band)


@pytest.mark.parametrize(
    ("total", "band"),
    [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"),
     (14, "moderate"), (15, "severe"), (21, "severe")],
)
def test_gad7_band_edges_without_new_code(total: int, band: str) -> None:
    result = score(GAD7, answers_totalling(GAD7, total))
    assert (result.total, result.severity, result.flagged) == (total, band, False)


def test_max_totals_come_from_the_data() -> None:
    assert PHQ9.max_total == 27
    assert GAD7.max_total == 21
    assert set(INSTRUMENTS) == {"phq9", "gad7"}


@pytest.mark.parametrize("total", [-1, 28])
def test_totals_outside_the_scale_are_refused(total: int) -> None:
    with pytest.raises(ValueError, match="outside 0..27"):
        severity_for(PHQ9, total)


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_item9_above_zero_flags_even_at_minimal_total(item9: int) -> None:
    result = score(PHQ9, answers_totalling(PHQ9, item9, safety=item9))
    assert result.flagged is True
    assert result.severity == "minimal"


def test_item9_zero_does_not_flag_a_severe_total() -> None:
    result = score(PHQ9, answers_totalling(PHQ9, 24, safety=0))
    assert (result.flagged, result.severity) == (False, "severe")


def test_difficulty_is_reported_but_not_scored() -> None:
    answers = answers_totalling(PHQ9, 12) | {10: 3}
    result = score(PHQ9, answers)
    assert (result.total, result.difficulty) == (12, 3)
    assert score(PHQ9, answers_totalling(PHQ9, 12)).difficulty is None


def test_missing_items_are_named() -> None:
    answers = answers_totalling(PHQ9, 6)
    del answers[2], answers[9]
    with pytest.raises(IncompleteAnswers) as caught:
        score(PHQ9, answers)
    assert caught.value.missing == [2, 9]


@pytest.mark.parametrize(
    ("question_id", "answer", "field"),
    [(0, 1, "question_id"), (11, 1, "question_id"), (3, 4, "answer"), (3, -1, "answer"),
     (10, 4, "answer")],
)
def test_invalid_answers_name_their_field(question_id: int, answer: int, field: str) -> None:
    with pytest.raises(InvalidAnswer) as caught:
        check_answer(PHQ9, question_id, answer)
    assert caught.value.field == field


def test_gad7_has_no_item_8() -> None:
    with pytest.raises(InvalidAnswer, match="no item 8"):
        check_answer(GAD7, 8, 0)

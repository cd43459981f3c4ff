"""Scoring as pure functions over an instrument's data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from assessment_core.instruments import Instrument


class IncompleteAnswers(ValueError):
    """Some scored items have no answer; `missing` lists their ids."""

    def __init__(self, missing: list[int]) -> None:
        super().__init__(f"missing answers for items {missing}")
        self.missing = missing


class InvalidAnswer(ValueError):
    """An item id the instrument does not have, or a value outside the item's options."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Score:
    total: int
    severity: str
    flagged: bool
    difficulty: int | None


def check_answer(instrument: Instrument, question_id: int, answer: int) -> None:
    """Raise InvalidAnswer unless `answer` is one of item `question_id`'s option values."""
    item = instrument.by_id.get(question_id)
    if item is None:
        ids = f"{instrument.items[0].id}..{instrument.items[-1].id}"
        raise InvalidAnswer("question_id", f"{instrument.title} has no item {question_id}; "
                            f"items are {ids}")
    values = [option.value for option in item.options]
    if answer not in values:
        raise InvalidAnswer("answer", f"item {question_id} takes an answer from {min(values)} "
                            f"to {max(values)}, got {answer}")


def severity_for(instrument: Instrument, total: int) -> str:
    """The band whose range holds `total`."""
    if not 0 <= total <= instrument.max_total:
        raise ValueError(f"total {total} is outside 0..{instrument.max_total}")
    label = instrument.bands[0].label
    for band in instrument.bands:
        if total >= band.minimum:
            label = band.label
    return label


def score(instrument: Instrument, answers: Mapping[int, int]) -> Score:
    """Score a complete set of answers; raise IncompleteAnswers naming the missing items."""
    for question_id, answer in answers.items():
        check_answer(instrument, question_id, answer)
    missing = [i for i in instrument.scored_ids if i not in answers]
    if missing:
        raise IncompleteAnswers(missing)
    total = sum(answers[i] for i in instrument.scored_ids)
    safety = instrument.safety_item
    return Score(
        total=total,
        severity=severity_for(instrument, total),
        flagged=safety is not None and answers[safety] > 0,
        difficulty=answers.get(instrument.difficulty_id) if instrument.difficulty_id else None,
    )

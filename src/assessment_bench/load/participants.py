"""What participants send, as one schedule every load generator replays: the same requests,
in the same order, for the closed loop (wrk), the open loop and the driver ceiling.

Each participant answers PHQ-9's items 1-9 in order, each answer saved as it is chosen; now
and then one goes back and changes an earlier answer, or taps the same answer twice; then
submits. `active` participants are under way at once, their requests taken in turn; when
one submits, a new session takes its place, so new sessions keep arriving all run long and
the rows written are many and different, as a clinic's are (not a few hot rows rewritten).
Taking them in turn keeps a participant's requests `active` apart: with at most a few dozen
in flight, each is answered before the next is sent, as a participant waits for the page.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

ITEMS = 9
CHANGE = 0.15  # after an answer, the chance of going back to change an earlier one
REPEAT = 0.05  # the chance of tapping the same answer again
SUBMIT = 0  # the item number that stands for "submit"
ACTIVE = 512  # participants under way at once: a participant's requests are far apart


@dataclass(frozen=True)
class Step:
    session: int  # index into the sessions list
    item: int  # 1..9, or SUBMIT
    answer: int


def participant(session: int, rng: random.Random) -> Iterator[Step]:
    answers: dict[int, int] = {}
    for item in range(1, ITEMS + 1):
        answers[item] = rng.randrange(4)
        yield Step(session, item, answers[item])
        if rng.random() < REPEAT:
            yield Step(session, item, answers[item])
        if item > 1 and rng.random() < CHANGE:
            earlier = rng.randrange(1, item)
            answers[earlier] = (answers[earlier] + rng.randrange(1, 4)) % 4
            yield Step(session, earlier, answers[earlier])
    yield Step(session, SUBMIT, 0)


def schedule(sessions: int, seed: int = 7, active: int = ACTIVE) -> list[Step]:
    """Every step of `sessions` participants, `active` at a time, taken in turn; the
    schedule ends when a slot has no new session left to start."""
    rng = random.Random(seed)
    fresh = iter(range(sessions))
    slots: list[Iterator[Step]] = [participant(next(fresh), rng)
                                   for _ in range(min(active, sessions))]
    steps: list[Step] = []
    while True:
        for index, slot in enumerate(slots):
            step = next(slot, None)
            if step is None:  # submitted: the next participant takes the slot
                session = next(fresh, None)
                if session is None:
                    return steps
                slots[index] = slot = participant(session, rng)
                step = next(slot)
            steps.append(step)


def steps_per_participant() -> float:
    """The mean number of requests one participant sends (saves and the submit)."""
    return ITEMS * (1 + REPEAT) + (ITEMS - 1) * CHANGE + 1


def sessions_for(requests: float) -> int:
    """Sessions enough for `requests` requests, with room to spare."""
    return int(requests / steps_per_participant() * 1.25) + ACTIVE


def saves_share(steps: Sequence[Step]) -> float:
    return sum(step.item != SUBMIT for step in steps) / len(steps)

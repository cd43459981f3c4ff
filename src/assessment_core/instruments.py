"""Questionnaires as data: items, answer options with LOINC codes, severity bands, safety item.

A new instrument is a new `Instrument` value; scoring, validation and FHIR export read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LOINC = "http://loinc.org"


@dataclass(frozen=True)
class Option:
    value: int
    loinc: str
    display: str


@dataclass(frozen=True)
class Item:
    id: int
    loinc: str
    text: str
    options: tuple[Option, ...]
    scored: bool = True


@dataclass(frozen=True)
class Band:
    minimum: int
    label: str


@dataclass(frozen=True)
class SafetyRule:
    """An item whose answer above 0 must bring a clinician (PHQ-9's item 9): the alert the
    assessment carries, and its X-Clinical-Alert header value."""

    item: int
    code: str
    message: str
    header: str


@dataclass(frozen=True)
class Instrument:
    key: str
    title: str
    panel_loinc: str
    total_loinc: str
    items: tuple[Item, ...]
    # Ascending by minimum; the first band starts at 0.
    bands: tuple[Band, ...]
    # An item whose answer above 0 must alert a clinician (PHQ-9 item 9), if any.
    safety: SafetyRule | None = None
    by_id: dict[int, Item] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {item.id: item for item in self.items})

    @property
    def safety_item(self) -> int | None:
        return self.safety.item if self.safety is not None else None

    @property
    def scored_ids(self) -> tuple[int, ...]:
        return tuple(item.id for item in self.items if item.scored)

    @property
    def difficulty_id(self) -> int | None:
        return next((item.id for item in self.items if not item.scored), None)

    @property
    def max_total(self) -> int:
        return sum(max(o.value for o in self.by_id[i].options) for i in self.scored_ids)


FREQUENCY = (
    Option(0, "LA6568-5", "Not at all"),
    Option(1, "LA6569-3", "Several days"),
    Option(2, "LA6570-1", "More than half the days"),
    Option(3, "LA6571-9", "Nearly every day"),
)
DIFFICULTY = (
    Option(0, "LA6572-7", "Not difficult at all"),
    Option(1, "LA6573-5", "Somewhat difficult"),
    Option(2, "LA6575-0", "Very difficult"),
    Option(3, "LA6574-3", "Extremely difficult"),
)


def _frequency_items(*rows: tuple[str, str]) -> tuple[Item, ...]:
    return tuple(Item(n, code, text, FREQUENCY) for n, (code, text) in enumerate(rows, start=1))


PHQ9 = Instrument(
    key="phq9",
    title="PHQ-9 quick depression assessment panel",
    panel_loinc="44249-1",
    total_loinc="44261-6",
    items=_frequency_items(
        ("44250-9", "Little interest or pleasure in doing things"),
        ("44255-8", "Feeling down, depressed, or hopeless"),
        ("44259-0", "Trouble falling or staying asleep, or sleeping too much"),
        ("44254-1", "Feeling tired or having little energy"),
        ("44251-7", "Poor appetite or overeating"),
        ("44258-2", "Feeling bad about yourself - or that you are a failure or have let "
                    "yourself or your family down"),
        ("44252-5", "Trouble concentrating on things, such as reading the newspaper or "
                    "watching television"),
        ("44253-3", "Moving or speaking so slowly that other people could have noticed. Or the "
                    "opposite - being so fidgety or restless that you have been moving around a "
                    "lot more than usual"),
        ("44260-8", "Thoughts that you would be better off dead, or of hurting yourself in "
                    "some way"),
    )
    + (
        Item(10, "69722-7", "If you checked off any problems, how difficult have these problems "
             "made it for you to do your work, take care of things at home, or get along with "
             "other people?", DIFFICULTY, scored=False),
    ),
    bands=(
        Band(0, "minimal"),
        Band(5, "mild"),
        Band(10, "moderate"),
        Band(15, "moderately severe"),
        Band(20, "severe"),
    ),
    safety=SafetyRule(
        item=9, code="ITEM9_POSITIVE", header="item9-positive",
        message="Item 9 (thoughts of death or self-harm) was answered above 0: a clinician must "
                "review this assessment before the participant leaves."),
)

# GAD-7 proves the model is general: no code path knows about it, its routes are every
# instrument's. Its difficulty question is left out until its LOINC code is confirmed against
# LOINC's panel 69737-5.
GAD7 = Instrument(
    key="gad7",
    title="Generalized anxiety disorder 7 item (GAD-7)",
    panel_loinc="69737-5",
    total_loinc="70274-6",
    items=_frequency_items(
        ("69725-0", "Feeling nervous, anxious or on edge"),
        ("68509-9", "Not being able to stop or control worrying"),
        ("69733-4", "Worrying too much about different things"),
        ("69734-2", "Trouble relaxing"),
        ("69735-9", "Being so restless that it is hard to sit still"),
        ("69689-8", "Becoming easily annoyed or irritable"),
        ("69736-7", "Feeling afraid as if something awful might happen"),
    ),
    bands=(Band(0, "minimal"), Band(5, "mild"), Band(10, "moderate"), Band(15, "severe")),
)

INSTRUMENTS: dict[str, Instrument] = {i.key: i for i in (PHQ9, GAD7)}

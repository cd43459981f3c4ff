"""Request and response bodies of the API contract (pydantic), shared by both apps."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt


def _no_nul(value: Any) -> Any:
    """Refuse U+0000 anywhere in a value: PostgreSQL's text and jsonb cannot store it."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain the NUL character (U+0000)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _no_nul(item)
    elif isinstance(value, list):
        for item in value:
            _no_nul(item)
    return value


class Strict(BaseModel):
    # Unknown fields are refused, so a typo in a field name is a 422 rather than silently lost.
    model_config = ConfigDict(extra="forbid")


class SessionCreate(Strict):
    participant_ref: Annotated[str, Field(max_length=200), AfterValidator(_no_nul)] | None = None


class SessionCreated(BaseModel):
    session_id: UUID
    token: str = Field(description="Bearer token for this session; shown once, never again")
    created_at: datetime


class AnswerIn(Strict):
    answer: StrictInt = Field(ge=0, le=3)


class AnswerOut(BaseModel):
    question_id: int
    answer: int
    updated_at: datetime


class ResponseIn(Strict):
    question_id: StrictInt
    answer: StrictInt = Field(ge=0, le=3)


class SubmitIn(Strict):
    responses: list[ResponseIn] = Field(default_factory=list, max_length=50)


# The instrument routes: each item's options decide which answers it takes (GET
# /api/instruments lists them); the /phq alias keeps PHQ-9's 0-3 in its schema, as before.
OPTION_VALUE = Field(ge=0, le=100, description="One of the item's option values "
                                               "(GET /api/instruments)")


class InstrumentAnswerIn(Strict):
    answer: StrictInt = OPTION_VALUE


class InstrumentResponseIn(Strict):
    question_id: StrictInt
    answer: StrictInt = OPTION_VALUE


class InstrumentSubmitIn(Strict):
    responses: list[InstrumentResponseIn] = Field(default_factory=list, max_length=50)


class OptionOut(BaseModel):
    value: int
    text: str = Field(description="The answer as the participant reads it")
    loinc: str


class ItemOut(BaseModel):
    id: int
    text: str
    scored: bool = Field(description="False for the difficulty question, which is not summed")
    loinc: str
    options: list[OptionOut]


class BandOut(BaseModel):
    minimum: int
    maximum: int
    label: str


class AlertRuleOut(BaseModel):
    item: int
    above: int = Field(description="An answer above this value raises the alert")
    code: str
    message: str


class InstrumentOut(BaseModel):
    key: str
    title: str
    loinc: dict[str, str]
    items: list[ItemOut]
    max_total: int
    bands: list[BandOut]
    alerts: list[AlertRuleOut]


class InstrumentList(BaseModel):
    instruments: list[InstrumentOut]


class Alert(BaseModel):
    code: str
    message: str


class AssessmentOut(BaseModel):
    assessment_id: UUID
    instrument: str
    total_score: int
    severity: str
    item9_positive: bool = Field(description="Item 9 (self-harm) above 0: a clinician must review")
    difficulty: int | None
    submitted_at: datetime
    alerts: list[Alert] = Field(description="Non-empty when a clinician must act")


class PhqState(BaseModel):
    responses: list[AnswerOut]
    assessment: AssessmentOut | None


class QuestionnaireState(PhqState):
    """An instrument's answers saved so far and its assessment, if submitted."""


class FhirQuestionnaireResponse(BaseModel):
    """A FHIR R4 QuestionnaireResponse, coded with LOINC (the fields this API always sets)."""

    model_config = ConfigDict(extra="allow")

    resourceType: Literal["QuestionnaireResponse"]
    id: str
    questionnaire: str
    status: Literal["in-progress", "completed"]
    item: list[dict[str, Any]]


class PhqSummary(BaseModel):
    answered: int
    submitted: bool
    assessment_id: UUID | None
    item9_positive: bool


class InstrumentState(BaseModel):
    answered: int
    items: int
    submitted: bool
    assessment_id: UUID | None
    flagged: bool = Field(description="A safety item was answered above 0: a clinician must "
                                      "review")


class SessionSummary(BaseModel):
    session_id: UUID
    participant_ref: str | None
    created_at: datetime
    phq: PhqSummary = Field(description="PHQ-9's state, as `instruments.phq9` says it")
    instruments: dict[str, InstrumentState]


class ErrorDetail(BaseModel):
    field: str | None = None
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorOut(BaseModel):
    error: ErrorBody


MAX_MESSAGE_CHARS = 4000


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain more than whitespace")
    return value


class ChatIn(Strict):
    message: Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS),
                       AfterValidator(_not_blank), AfterValidator(_no_nul)]


class TurnOut(BaseModel):
    turn_number: int
    user_message: str
    ai_message: str | None
    status: Literal["streaming", "complete", "partial", "failed"]
    error_code: str | None
    created_at: datetime
    completed_at: datetime | None


class ChatToken(BaseModel):
    """The `data` of a `token` event: the next piece of the answer."""

    delta: str


class ChatDone(BaseModel):
    """The `data` of the `done` event: the turn was saved."""

    turn_number: int
    status: Literal["complete", "partial", "failed"]
    finish_reason: str | None
    completion_tokens: int | None


class ChatFailure(BaseModel):
    """The `data` of an `error` event: the upstream failed, or the turn could not be saved."""

    code: str
    message: str
    turn_number: int
    status: Literal["complete", "partial", "failed"] | None = None
    retry_after: str | None = None


class MessageIn(Strict):
    role: Literal["user", "assistant", "system"]
    content: Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS),
                       AfterValidator(_not_blank), AfterValidator(_no_nul)]
    metadata: Annotated[dict[str, Any], AfterValidator(_no_nul)] = Field(
        default_factory=dict, max_length=50)


class MessageOut(BaseModel):
    message_id: UUID
    role: str
    created_at: datetime


class CaptureOut(BaseModel):
    capture_id: UUID
    batch_id: UUID
    capture_type: str
    assessment_id: UUID | None
    assessment_type: str | None
    content_type: str
    size_bytes: int
    sha256: str
    created_at: datetime


class CaptureUpload(BaseModel):
    """An upload's multipart fields (documentation only: the body is decoded as it streams)."""

    frames: list[bytes] = Field(min_length=1, description="JPEG or PNG files, judged by their "
                                "bytes")
    capture_type: Literal["face", "posture", "environment"]
    assessment_id: UUID | None = None


class StoredCapture(BaseModel):
    capture_id: UUID
    size_bytes: int
    sha256: str
    content_type: str


class BatchOut(BaseModel):
    batch_id: UUID
    captures: list[StoredCapture]


class LinkIn(Strict):
    assessment_id: UUID
    assessment_type: Literal["phq9", "gad7"]


class LinkOut(BaseModel):
    linked: int

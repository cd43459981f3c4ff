-- name: upsert_response
-- Save one answer in one round trip: authenticate, refuse edits after submission, upsert.
-- Nothing comes back when the token does not open the session or it was submitted.
INSERT INTO responses (session_id, instrument, question_id, answer, updated_at)
SELECT s.id, :instrument, :question_id, :answer, now()
  FROM session_for_token(:token_hash) s
 WHERE s.id = :session_id
   AND NOT EXISTS (SELECT 1 FROM assessments a
                    WHERE a.session_id = s.id AND a.instrument = :instrument)
ON CONFLICT (session_id, instrument, question_id)
DO UPDATE SET answer = EXCLUDED.answer, updated_at = EXCLUDED.updated_at
RETURNING question_id, answer, updated_at;

-- name: upsert_responses
-- Many answers of many sessions in one statement (group commit): the same checks as
-- upsert_response, row by row; a row that fails them is left out of what comes back. Rows
-- go in key order, so two batches in flight take row locks in the same order and cannot
-- deadlock.
INSERT INTO responses (session_id, instrument, question_id, answer, updated_at)
SELECT s.id, i.instrument, i.question_id, i.answer, now()
  FROM unnest(:session_ids::uuid[], :token_hashes::bytea[], :instruments::text[],
              :question_ids::smallint[], :answers::smallint[])
       AS i(session_id, token_hash, instrument, question_id, answer)
 CROSS JOIN LATERAL session_for_token(i.token_hash) s
 WHERE s.id = i.session_id
   AND NOT EXISTS (SELECT 1 FROM assessments a
                    WHERE a.session_id = s.id AND a.instrument = i.instrument)
 ORDER BY s.id, i.instrument, i.question_id
ON CONFLICT (session_id, instrument, question_id)
DO UPDATE SET answer = EXCLUDED.answer, updated_at = EXCLUDED.updated_at
RETURNING session_id, instrument, question_id, answer, updated_at;

-- name: upsert_submitted_responses
-- The answers sent with a submit, inside its transaction (the session is locked and its
-- token was checked).
INSERT INTO responses (session_id, instrument, question_id, answer, updated_at)
SELECT :session_id, :instrument, q, a, now()
  FROM unnest(:question_ids::smallint[], :answers::smallint[]) AS t(q, a)
ON CONFLICT (session_id, instrument, question_id)
DO UPDATE SET answer = EXCLUDED.answer, updated_at = EXCLUDED.updated_at;

-- name: select_responses
SELECT question_id, answer, updated_at
  FROM responses
 WHERE session_id = :session_id AND instrument = :instrument
 ORDER BY question_id;

-- name: lock_session
-- Serialises a session's submissions: two racing submits give one assessment.
SELECT 1 FROM sessions WHERE id = :session_id FOR UPDATE;

-- name: select_assessment
-- The columns the answer bodies read (questionnaire.py), named: asyncpg caches a prepared
-- statement's row shape, so `*` would fail once a migration added a column under a running
-- app.
SELECT id, instrument, total_score, severity, flagged, difficulty, answers, submitted_at
  FROM assessments
 WHERE session_id = :session_id AND instrument = :instrument;

-- name: insert_assessment
-- The scored assessment, with the answers exactly as scored.
INSERT INTO assessments (id, session_id, instrument, total_score, severity, flagged,
                         difficulty, answers)
VALUES (:id, :session_id, :instrument, :total_score, :severity, :flagged, :difficulty,
        :answers::jsonb)
RETURNING id, instrument, total_score, severity, flagged, difficulty, answers, submitted_at;

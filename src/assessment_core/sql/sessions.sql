-- name: insert_session
-- A new session. Only the token's sha256 is stored; the token itself is shown once.
INSERT INTO sessions (id, token_hash, participant_ref)
VALUES (:id, :token_hash, :participant_ref)
RETURNING id, created_at;

-- name: select_session_id_by_token
-- The session a bearer token opens, if any. Every statement that authenticates goes through
-- session_for_token(), the one place the token is checked (migration 0004).
SELECT id FROM session_for_token(:token_hash);

-- name: select_summary
-- One row per instrument, in the order given: the session, how many answers it saved to the
-- instrument, and the instrument's assessment if submitted.
SELECT s.id, s.participant_ref, s.created_at, k.instrument,
       (SELECT count(*) FROM responses r
         WHERE r.session_id = s.id AND r.instrument = k.instrument) AS answered,
       a.id AS assessment_id, a.flagged
  FROM sessions s
 CROSS JOIN unnest(CAST(:instruments AS text[])) WITH ORDINALITY AS k(instrument, position)
  LEFT JOIN assessments a ON a.session_id = s.id AND a.instrument = k.instrument
 WHERE s.id = :session_id
 ORDER BY k.position;

-- name: select_owner_and_history
-- The session the token opens (no row: none) and, when it is :session_id, its last
-- :history_turns finished turns that said something, newest first: a chat's two reads in
-- one round trip.
SELECT s.id AS owner, t.turn_number, t.user_message, t.ai_message
  FROM session_for_token(:token_hash) s
  LEFT JOIN LATERAL (
        SELECT turn_number, user_message, ai_message FROM chat_turns
         WHERE session_id = s.id AND s.id = :session_id AND status IN ('complete', 'partial')
         ORDER BY turn_number DESC LIMIT :history_turns) t ON true;

-- name: select_recent_turns
-- The last :history_turns finished turns that said something, newest first.
SELECT turn_number, user_message, ai_message
  FROM chat_turns
 WHERE session_id = :session_id AND status IN ('complete', 'partial')
 ORDER BY turn_number DESC LIMIT :history_turns;

-- name: seconds_until_turn_allowed
-- Nothing when a turn may start now; else the seconds until the oldest turn that fills the
-- minute's quota leaves the window. Racing chats cannot both pass: one streaming turn per
-- session (the unique index on it).
SELECT extract(epoch FROM created_at + interval '60 seconds' - now())::float8
  FROM chat_turns
 WHERE session_id = :session_id AND created_at > now() - interval '60 seconds'
 ORDER BY created_at DESC OFFSET :turns_per_minute - 1 LIMIT 1;

-- name: insert_streaming_turn
-- The user's message as a new `streaming` turn with the next number. A second one while a
-- turn streams, or a racing chat that took the number, violates a unique index.
INSERT INTO chat_turns (id, session_id, turn_number, user_message, status, model)
SELECT :id, :session_id, coalesce(max(turn_number), 0) + 1, :user_message, 'streaming', :model
  FROM chat_turns
 WHERE session_id = :session_id
RETURNING id, turn_number, created_at;

-- name: close_stale_turns
-- Turns left `streaming` longer than :stale_after seconds were cut off by a server that
-- died: closed as partial or failed (of one session, or of all when :session_id is null).
UPDATE chat_turns
   SET status = CASE WHEN coalesce(ai_message, '') = '' THEN 'failed' ELSE 'partial' END,
       error_code = 'INTERRUPTED', completed_at = now()
 WHERE status = 'streaming' AND created_at < now() - make_interval(secs => :stale_after)
   AND (:session_id::uuid IS NULL OR session_id = :session_id);

-- name: finish_turn
-- A turn's end: what was relayed, how it ended, what it cost.
UPDATE chat_turns
   SET ai_message = :ai_message, status = :status, error_code = :error_code,
       completion_tokens = :completion_tokens, completed_at = now()
 WHERE id = :turn_id
RETURNING turn_number, status, completed_at;

-- name: select_turns
SELECT turn_number, user_message, ai_message, status, error_code, created_at, completed_at
  FROM chat_turns
 WHERE session_id = :session_id
 ORDER BY turn_number;

-- name: insert_message
-- A message of the conversation as the frontend saw it.
INSERT INTO chat_messages (id, session_id, role, content, metadata)
VALUES (:id, :session_id, :role, :content, :metadata::jsonb)
RETURNING id, role, created_at;

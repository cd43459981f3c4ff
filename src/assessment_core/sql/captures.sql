-- name: select_assessment_instrument
-- The instrument of one of this session's assessments; nothing if it has no such one.
SELECT instrument FROM assessments WHERE id = :assessment_id AND session_id = :session_id;

-- name: insert_batch
-- One upload; its frames follow in the same transaction (insert_capture).
INSERT INTO capture_batches (id, session_id, capture_type, assessment_id)
VALUES (:id, :session_id, :capture_type, :assessment_id);

-- name: insert_capture
-- One frame of a batch, written after its object is complete in storage.
INSERT INTO captures (id, batch_id, session_id, position, capture_type, assessment_id,
                      assessment_type, storage_key, content_type, size_bytes, sha256,
                      original_filename)
VALUES (:id, :batch_id, :session_id, :position, :capture_type, :assessment_id,
        :assessment_type, :storage_key, :content_type, :size_bytes, :sha256,
        :original_filename);

-- name: link_unlinked
-- Attach the session's frames that have no assessment yet.
UPDATE captures SET assessment_id = :assessment_id, assessment_type = :assessment_type
 WHERE session_id = :session_id AND assessment_id IS NULL;

-- name: select_captures
SELECT id AS capture_id, batch_id, capture_type, assessment_id, assessment_type,
       content_type, size_bytes, sha256, created_at
  FROM captures
 WHERE session_id = :session_id
 ORDER BY created_at, batch_id, position;

-- name: select_capture
SELECT storage_key, content_type, size_bytes, sha256
  FROM captures
 WHERE id = :capture_id AND session_id = :session_id;

-- name: select_stored_keys
-- Which of these storage keys a capture row names (the orphan sweep keeps those).
SELECT storage_key FROM captures WHERE storage_key = ANY(:keys);

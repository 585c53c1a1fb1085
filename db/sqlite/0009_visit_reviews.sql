-- Aviary schema (SQLite): camera visits reviewed like photo birds (issue 19
-- retention: a reviewed visit is never pruned). review_action: '' none, or
-- 'confirm', 'species' (review_species says which), 'not_bird'; reviewed_at
-- in ms since the epoch (0: never), so the birds cache sees each review.
ALTER TABLE camera_visits ADD COLUMN review_action TEXT NOT NULL DEFAULT '';
ALTER TABLE camera_visits ADD COLUMN review_species TEXT NOT NULL DEFAULT '';
ALTER TABLE camera_visits ADD COLUMN review_common TEXT NOT NULL DEFAULT '';
ALTER TABLE camera_visits ADD COLUMN reviewed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE camera_visits ADD COLUMN reviewed_at INTEGER NOT NULL DEFAULT 0;
-- the birds cache's version reads MAX(reviewed_at) on every birder page
CREATE INDEX camera_visits_reviewed ON camera_visits (reviewed_at);

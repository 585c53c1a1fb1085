-- Aviary schema v11 (SQLite): an upload that is a drawing or painting, not a
-- photo (README "Illustrations are not sightings"): no inferences rows are
-- written for it, so nothing counts it as a sighting; the best guess is kept
-- here for the results page ('' and NULL when none).
ALTER TABLE images ADD COLUMN illustration INTEGER NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN illustration_species TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN illustration_common TEXT NOT NULL DEFAULT '';
ALTER TABLE images ADD COLUMN illustration_score REAL NULL;

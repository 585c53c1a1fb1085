-- Aviary schema v10 (SQLite): which rule found a bird on the whole image
-- when no box did ('species', 'two_views', 'imagenet'; '' for a box), so the
-- web app's detection JSON says it as `aviary detect --json` does.
ALTER TABLE inferences ADD COLUMN whole_image_by TEXT NOT NULL DEFAULT '';

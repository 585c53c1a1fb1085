-- Aviary schema v7 (SQLite): pending images found by index. Every node
-- looks for pending images nobody holds a lease on (at start-up and every
-- few seconds: what a crash left behind); status comes after the image
-- blob in each row, so without this index that was a read of every upload.
CREATE INDEX images_pending ON images(status, created_at);

-- Aviary schema v7 (MySQL/MariaDB): pending images found by index. Every
-- node looks for pending images nobody holds a lease on (at start-up and
-- every few seconds: what a crash left behind).
CREATE INDEX images_pending ON images (status, created_at);

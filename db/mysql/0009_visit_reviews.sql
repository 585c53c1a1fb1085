-- Aviary schema (MySQL/MariaDB): camera visits reviewed like photo birds,
-- the same columns as db/sqlite/0009_visit_reviews.sql (a reviewed visit is
-- never pruned; reviewed_at in ms since the epoch, 0: never; its index serves
-- the birds cache's version, read on every birder page).
ALTER TABLE camera_visits
    ADD COLUMN review_action VARCHAR(16) NOT NULL DEFAULT '',
    ADD COLUMN review_species VARCHAR(128) NOT NULL DEFAULT '',
    ADD COLUMN review_common VARCHAR(128) NOT NULL DEFAULT '',
    ADD COLUMN reviewed_by VARCHAR(128) NOT NULL DEFAULT '',
    ADD COLUMN reviewed_at BIGINT NOT NULL DEFAULT 0,
    ADD KEY camera_visits_reviewed (reviewed_at);

-- Aviary schema (MySQL/MariaDB): the columns of db/sqlite/0011_illustration.sql
-- (an upload that is a drawing, not a photo, and its best guess).
ALTER TABLE images
    ADD COLUMN illustration TINYINT(1) NOT NULL DEFAULT 0,
    ADD COLUMN illustration_species VARCHAR(128) NOT NULL DEFAULT '',
    ADD COLUMN illustration_common VARCHAR(128) NOT NULL DEFAULT '',
    ADD COLUMN illustration_score DOUBLE NULL;

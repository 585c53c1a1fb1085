-- Aviary schema (MySQL/MariaDB): the column of db/sqlite/0010_whole_image_by.sql
-- (the rule that found a whole-image bird; '' for a box).
ALTER TABLE inferences ADD COLUMN whole_image_by VARCHAR(16) NOT NULL DEFAULT '';

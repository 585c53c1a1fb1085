-- Aviary schema v8 (SQLite): each box's top species guesses (at most 5,
-- best first), so a review can offer them before a search over every
-- label. idx is the detection's inferences.idx, rnk its place (0 = best);
-- inferences keeps the shown answer as before.
CREATE TABLE inference_guesses (
    ID          TEXT NOT NULL REFERENCES images(ID),
    idx         INTEGER NOT NULL,
    rnk         INTEGER NOT NULL,
    species     TEXT NOT NULL,   -- scientific name
    common_name TEXT,
    score       REAL NOT NULL,
    PRIMARY KEY (ID, idx, rnk)
);

-- Aviary schema v4 (SQLite): accounts. Owners sign in with a password
-- (Argon2id, libsodium's crypto_pwhash_str); sessions live here so any web
-- node sees them (the cookie holds a random token, the row its SHA-256);
-- failed logins are counted per account and per address for the rate
-- limit. Times are ms since the epoch.
CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT NOT NULL UNIQUE,
    role           TEXT NOT NULL DEFAULT 'owner',
    pw_hash        TEXT NOT NULL,
    api_token_hash TEXT NULL UNIQUE,   -- SHA-256 hex of the user's API token
    created_ms     INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,        -- SHA-256 hex of the cookie's token
    user_id    INTEGER NOT NULL REFERENCES users(id),
    csrf       TEXT NOT NULL,           -- the token every form of the session carries
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE login_failures (
    k         TEXT PRIMARY KEY,         -- 'user:NAME' or 'addr:ADDRESS'
    window_ms INTEGER NOT NULL,         -- first failure of the current window
    failures  INTEGER NOT NULL
);

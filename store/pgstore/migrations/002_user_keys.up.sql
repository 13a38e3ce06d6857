-- 002_user_keys: each user's key generation (engine/userkey.go). A user key names
-- a generation; rotating moves it on, and keys of older generations are refused.
-- Every user starts at 1, so the key a creation answers is the same on a retry.
ALTER TABLE users ADD COLUMN key_gen bigint NOT NULL DEFAULT 1 CONSTRAINT users_key_gen_check CHECK (key_gen >= 1);

-- UserKeyGens: the rotated users of one mirror bucket, after Redis lost its copy.
-- Partial, so it holds only users who ever rotated.
CREATE INDEX users_rotated_keys ON users (id) WHERE key_gen > 1;

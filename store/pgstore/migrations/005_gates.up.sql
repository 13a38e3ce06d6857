-- 005_gates: the two gates in front of a concert's waiting room.

-- queue.proofOfWorkBits, kept with the other queue settings (Redis restores its
-- copy from here after losing its data).
ALTER TABLE concerts
    ADD COLUMN proof_of_work_bits int NOT NULL DEFAULT 0
        CONSTRAINT concerts_proof_of_work_bits_check CHECK (proof_of_work_bits BETWEEN 0 AND 26);

-- A concert's presale: until `until`, entering needs a code.
CREATE TABLE presales (
    concert_id bigint      PRIMARY KEY REFERENCES concerts (id),
    until      timestamptz NOT NULL
);

-- Only the SHA-256 of each code is kept. A code belongs to the first user who
-- enters with it: EnterPresale's conditional UPDATE (user_id IS NULL) binds it,
-- so of users racing for one code exactly one row update wins.
CREATE TABLE presale_codes (
    concert_id bigint      NOT NULL REFERENCES presales (concert_id),
    code_hash  bytea       NOT NULL CHECK (length(code_hash) = 32),
    user_id    bigint      NULL,
    bound_at   timestamptz NULL,
    PRIMARY KEY (concert_id, code_hash)
);
-- EnterPresale: "is a code of this concert bound to this user?" on every entry
-- during a presale, without scanning the concert's codes.
CREATE INDEX presale_codes_user_idx ON presale_codes (concert_id, user_id) WHERE user_id IS NOT NULL;

-- Payment attempts that committed, so an attempt whose outcome a client never
-- heard can be settled for good: VoidAttempt inserts the same key, and whichever
-- insert commits first decides (the sale's, or the void's, which then makes the
-- sale's statement fail on the primary key). Kept as long as idempotency keys.
CREATE TABLE payment_attempts (
    attempt        bigint PRIMARY KEY,
    reservation_id bigint      NOT NULL,
    voided         bool        NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_attempts_created_idx ON payment_attempts (created_at);

-- When the sale of a concert ended for good (PATCH …/queue {"closed": true});
-- NULL while it is open. A concert also counts as closed the day after its last
-- schedule's date, which needs no column.
ALTER TABLE concerts ADD COLUMN closed_at timestamptz;

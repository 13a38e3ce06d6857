-- 001_init: the whole ledger. Every index carries a comment naming the query that
-- needs it; a table without one is read only by primary key or unique constraint.
--
-- The rows a payment writes (payments, sales, balance_history) carry no foreign
-- keys on purpose. Sell writes them in one statement that has just locked the user
-- row and read the schedule row, so the parents provably exist, and users and
-- schedules are never deleted. Their five FK triggers cost ~90 us of the ~540 us a
-- payment takes (measured with BenchmarkSell), for a check that cannot fail.

CREATE TABLE users (
    id         bigserial PRIMARY KEY,
    name       text        NOT NULL,
    email      text        NOT NULL CONSTRAINT users_email_key UNIQUE,
    -- The cap is the contract's; Charge enforces it in its UPDATE too, this is the
    -- backstop so no code path can ever store an out-of-range balance.
    balance    bigint      NOT NULL DEFAULT 0 CONSTRAINT users_balance_check CHECK (balance >= 0 AND balance <= 1000000000),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE concerts (
    id               bigserial PRIMARY KEY,
    title            text        NOT NULL,
    description      text        NOT NULL DEFAULT '',
    sale_opens_at    timestamptz NOT NULL,
    admit_per_second int         NOT NULL,
    max_active       int         NOT NULL,
    paused           bool        NOT NULL DEFAULT false
);

CREATE TABLE schedules (
    id           bigserial PRIMARY KEY,
    concert_id   bigint NOT NULL REFERENCES concerts (id),
    concert_date date   NOT NULL,
    seat_count   int    NOT NULL CHECK (seat_count BETWEEN 1 AND 100000),
    price        bigint NOT NULL CHECK (price >= 1)
);

CREATE TABLE payments (
    id             bigserial PRIMARY KEY,
    user_id        bigint      NOT NULL,
    -- A reservation is paid at most once, whatever the seat row says.
    reservation_id bigint      NOT NULL CONSTRAINT payments_reservation_id_key UNIQUE,
    amount         bigint      NOT NULL CHECK (amount > 0),
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- The final judge: the primary key is what makes a seat sellable exactly once, even
-- if Redis lost every hold. Sell's conflict handling keys off these constraint names.
-- The primary key also serves SoldSeats and AllSoldSeats (schedule_id, seat_number),
-- and the reservation_id unique index serves SaleByReservation and MaxReservationID.
CREATE TABLE sales (
    schedule_id    bigint      NOT NULL,
    seat_number    int         NOT NULL,
    reservation_id bigint      NOT NULL CONSTRAINT sales_reservation_id_key UNIQUE,
    user_id        bigint      NOT NULL,
    payment_id     bigint      NOT NULL,
    amount         bigint      NOT NULL,
    -- Kept so a sale read back later answers with the same currentBalance the
    -- payment answered with.
    balance_after  bigint      NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sales_pkey PRIMARY KEY (schedule_id, seat_number)
);

CREATE TABLE balance_history (
    id         bigserial PRIMARY KEY,
    user_id    bigint      NOT NULL,
    type       text        NOT NULL CHECK (type IN ('charge', 'payment')),
    amount     bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- Balance: WHERE user_id = $1 ORDER BY id DESC LIMIT $2 reads the newest rows of one
-- user straight off this index instead of sorting all of that user's history.
CREATE INDEX balance_history_user_id_idx ON balance_history (user_id, id DESC);

CREATE TABLE idempotency_keys (
    user_id     bigint      NOT NULL,
    key         text        NOT NULL,
    fingerprint text        NOT NULL,
    result      jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
-- PurgeIdempotencyKeys: DELETE ... WHERE created_at < $1 would otherwise scan every
-- key kept for the last day.
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

CREATE TABLE outbox (
    id         bigserial PRIMARY KEY,
    topic      text        NOT NULL,
    payload    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz NULL
);
-- RelayOutbox: WHERE sent_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED. The
-- index holds only unsent rows, so it stays small however long the table grows.
CREATE INDEX outbox_unsent_idx ON outbox (id) WHERE sent_at IS NULL;

-- 004_sections: a venue's layout per schedule. A schedule without rows here is
-- one section "A" of one row of seat_count seats at price (the engine fills it
-- in), so schedules made before layouts existed read as they always did. With
-- rows, schedules.seat_count is their total and schedules.price the first
-- section's price; Sell's seat range check keeps reading seat_count.
CREATE TABLE schedule_sections (
    schedule_id   bigint NOT NULL REFERENCES schedules (id),
    position      int    NOT NULL CHECK (position >= 1),
    name          text   NOT NULL CHECK (char_length(name) BETWEEN 1 AND 20),
    price         bigint NOT NULL CHECK (price >= 1),
    rows          int    NOT NULL CHECK (rows >= 1),
    seats_per_row int    NOT NULL CHECK (seats_per_row >= 1),
    -- Catalog reads a schedule's sections in order off this key.
    PRIMARY KEY (schedule_id, position),
    CONSTRAINT schedule_sections_name_key UNIQUE (schedule_id, name)
);

-- A concert's per-person ticket limit, seats held plus bought; 0: none.
ALTER TABLE concerts ADD COLUMN max_tickets_per_user int NOT NULL DEFAULT 0
    CHECK (max_tickets_per_user >= 0);

-- Seats each user bought per concert. Sell adds one in its own statement with
-- ON CONFLICT DO UPDATE, which works on the row's latest version under its lock,
-- so concurrent payments of one user count one after another; cap is the
-- concert's limit at that sale, and the CHECK aborts a sale past it: nothing is
-- charged. Seeded from the sales made before this migration.
CREATE TABLE tickets (
    user_id    bigint NOT NULL,
    concert_id bigint NOT NULL,
    bought     int    NOT NULL,
    cap        int    NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, concert_id),
    CONSTRAINT tickets_cap_check CHECK (cap = 0 OR bought <= cap)
);
INSERT INTO tickets (user_id, concert_id, bought)
SELECT s.user_id, sc.concert_id, count(*) FROM sales s JOIN schedules sc ON sc.id = s.schedule_id
GROUP BY s.user_id, sc.concert_id;

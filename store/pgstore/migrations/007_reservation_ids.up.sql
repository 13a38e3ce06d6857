-- Reservation ids come from here in blocks of 1,000 (store/redisstore takes one
-- block per 1,000 holds), so a Redis that loses its last writes in a failover can
-- never hand out an id again: a reused id would meet another reservation's
-- payment. nextval is the first id of a fresh block.
CREATE SEQUENCE reservation_id_blocks INCREMENT BY 1000;
SELECT setval('reservation_id_blocks', (SELECT coalesce(max(reservation_id), 0) FROM sales) + 1, false);

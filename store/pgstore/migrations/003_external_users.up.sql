-- 003_external_users: users that the operator's own login brings in (identity
-- tokens, ../shared/API.md "Identity").
--
-- external_id is the site's user id, the token's sub. Its UNIQUE constraint is what
-- makes the first sight of a sub create one user however many requests with it race
-- on however many instances (ExternalUser inserts ON CONFLICT DO NOTHING and reads
-- the winner); it also serves ExternalUser's lookup by sub. Users made by
-- POST /api/users have none, and UNIQUE lets any number of NULLs stand.
--
-- Such a user may have no email: the token carried none, or one that another user
-- already has (an identity token does not prove ownership of a concertd account
-- registered under that address). So email may now be NULL; users_email_key still
-- keeps every present email unique.
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
ALTER TABLE users ADD COLUMN external_id text CONSTRAINT users_external_id_key UNIQUE;

# bench/lib.sh: what bench/run.sh and bench/scale.sh share; each sources it after
# its own settings. Not a script of its own.

# admin_key and token_secret: the operator key and the key that signs user keys and
# tokens of the concertd a run starts, fresh each run (concertd wants 32 characters
# or more of each). rush setup -user-ids signs keys with token_secret (TOKEN_SECRET).
admin_key=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
token_secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
# pids: the processes a run started; its cleanup stops them with stop_pids.
pids=()

stop_pids() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}

log() { printf '\n== %s\n' "$*" >&2; }

# create_db NAME and drop_db NAME: a database of this run on $PGHOST as $PGUSER;
# drop_db is quiet and never fails (it runs in cleanups).
create_db() { psql -h "$PGHOST" -U "$PGUSER" -qc "CREATE DATABASE $1" >/dev/null; }
drop_db() { psql -h "$PGHOST" -U "$PGUSER" -qc "DROP DATABASE IF EXISTS $1" >/dev/null 2>&1 || true; }

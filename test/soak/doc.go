// Package soak holds the long fault tests: a rush of real concertd processes on one
// Redis and one PostgreSQL while one is killed with SIGKILL and the database is cut
// away and restored. They need the built binary and minutes, not seconds, so they
// sit behind the soak build tag and run with `make soak`, not `make test`; the
// quick in-process versions live in cmd/concertd.
package soak

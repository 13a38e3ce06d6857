// Package k6check runs every script of bench/k6 against a real concertd, built
// and started as a process, under a small k6-compatible JavaScript runtime (its
// tests hold it: k6 itself is not used), and checks through the API what each
// script did. A script nobody ran is a script nobody knows to work.
package k6check

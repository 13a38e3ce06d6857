// Command rush is concertd's load driver: it needs nothing but a running concertd
// and its admin key. It creates a concert and users with balances, then runs the
// whole sale the way browsers would (enter the waiting room, poll honouring
// pollAfterSeconds, hold random seats, pay, retry on 409), shows a progress line,
// and ends with a report and a check of the sale's invariants:
//
//	rush -addr 127.0.0.1:8080 -admin-key $ADMIN_KEY -users 4000 -seats 10000 -concurrency 128 -duration 60s
//
// `rush setup -mode poll|hold|seatmap` instead prepares tokens for the wrk runs of
// bench/run.sh (see bench/README.md), `rush paybench` times payments alone, and
// `rush scale` grows one concert's waiting room through checkpoints (1k to 1M
// WAITING tokens) and measures token issue and poll rates, Redis bytes per waiting
// token and concertd's memory at each (bench/scale.sh; see scale.go).
package main

import (
	"fmt"
	"os"
)

func main() {
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "setup":
		err = runSetup(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "paybench":
		err = runPayBench(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "scale":
		err = runScale(os.Args[2:])
	default:
		err = runSale(os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rush:", err)
		os.Exit(1)
	}
}

package main

import (
	"flag"
	"os"
)

// serverFlags adds -addr and -admin-key, which every mode that talks to concertd
// takes, writing them to addr and adminKey.
func serverFlags(fs *flag.FlagSet, addr, adminKey *string) {
	fs.StringVar(addr, "addr", "127.0.0.1:8080", "concertd address (host:port)")
	fs.StringVar(adminKey, "admin-key", os.Getenv("ADMIN_KEY"), "X-Admin-Key (default $ADMIN_KEY)")
}

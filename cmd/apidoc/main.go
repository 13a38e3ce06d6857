// Command apidoc writes the Markdown API reference (docs/API.md) from the same
// document the server serves as /openapi.json: `make docs` runs it.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/concertd/concertd/api"
)

func main() {
	out := flag.String("o", "docs/API.md", "where to write the reference")
	flag.Parse()
	if err := os.WriteFile(*out, api.Reference(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "apidoc:", err)
		os.Exit(1)
	}
}

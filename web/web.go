// Package web is what a person opens in a browser: the buyer's page at / (enter
// the waiting room, watch the line move, pick a seat, pay) and the operator view
// at /ops (live counts, admission rate, the pause switch). Both are plain HTML,
// CSS and JavaScript embedded in the binary: no build step, no CDN, no second
// process, and a page always speaks the API of the binary that serves it.
// The api package serves these files; this package only holds them.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Files are the pages and their assets, by file name (index.html, ops.html, ...).
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the directory is embedded above; only a broken build gets here
	}
	return sub
}

// Package scripts holds concertd's Lua sources, one file per script, each with a
// header naming its KEYS, ARGV and return values. They are embedded so the binary
// carries them; store/redisstore wraps each in one typed Go function.
package scripts

import "embed"

// FS holds every *.lua file of this folder.
//
//go:embed *.lua
var FS embed.FS

// Source returns the text of scripts/<name>.lua; it panics on a missing name, which
// is a build mistake caught by the first test that loads it.
func Source(name string) string {
	b, err := FS.ReadFile(name + ".lua")
	if err != nil {
		panic("scripts: " + err.Error())
	}
	return string(b)
}

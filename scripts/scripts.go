// Package scripts holds concertd's Lua sources, one file per script, each with a
// header naming its KEYS, ARGV and return values. They are embedded so the binary
// carries them; store/redisstore wraps each in one typed Go function.
//
// A helper several scripts need lives once in lib/<name>.lua, and a script takes
// it with a line "--#include <name>": a script sent to Redis runs alone and
// cannot load another, so Source splices the helper's text in its place.
package scripts

import (
	"embed"
	"strings"
)

// FS holds every *.lua file of this folder and of lib/.
//
//go:embed *.lua lib/*.lua
var FS embed.FS

const include = "--#include "

// Source returns the text of scripts/<name>.lua with its includes spliced in; it
// panics on a missing script or helper, a build mistake caught by the first test
// that loads it.
func Source(name string) string {
	lines := strings.SplitAfter(read(name+".lua"), "\n")
	for i, l := range lines {
		if lib, ok := strings.CutPrefix(strings.TrimSpace(l), include); ok {
			lines[i] = read("lib/" + lib + ".lua")
		}
	}
	return strings.Join(lines, "")
}

func read(path string) string {
	b, err := FS.ReadFile(path)
	if err != nil {
		panic("scripts: " + err.Error())
	}
	return string(b)
}

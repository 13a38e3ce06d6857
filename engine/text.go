package engine

import (
	"unicode"
	"unicode/utf8"
)

// The free text people type: a user's name, a concert's title and description.
// Three things are checked here, once, for every store:
//   - UTF-8, which PostgreSQL insists on.
//   - Length in characters, not bytes: a Hangul letter is three bytes of UTF-8, so
//     a byte limit would cut a Korean name at a third of what its message says.
//   - No control characters. PostgreSQL's text cannot hold NUL at all (the insert
//     fails, which would surface as a 500 for bad input), and a name or title is
//     shown on one line, so the rest of C0, DEL and C1 are refused as well. A
//     description may break lines: it keeps tab, newline and carriage return.
type textRule struct {
	field     string
	max       int  // characters
	required  bool // at least one character
	multiline bool
}

// The longest name, title and description, in characters (the OpenAPI
// document's maxLength, which counts characters too).
const (
	MaxNameLength        = 100
	MaxTitleLength       = 200
	MaxDescriptionLength = 4000
)

var (
	nameText        = textRule{field: "name", max: MaxNameLength, required: true}
	titleText       = textRule{field: "title", max: MaxTitleLength, required: true}
	descriptionText = textRule{field: "description", max: MaxDescriptionLength, multiline: true}
)

// check returns a BAD_REQUEST error naming the field, or nil.
func (r textRule) check(s string) error {
	// The JSON decoder replaces invalid bytes with U+FFFD, so this guards callers
	// other than the HTTP API.
	if !utf8.ValidString(s) {
		return Errorf(CodeBadRequest, "%s must be UTF-8 text", r.field)
	}
	if n := utf8.RuneCountInString(s); n > r.max || (r.required && n == 0) {
		if r.required {
			return Errorf(CodeBadRequest, "%s must be 1 to %d characters", r.field, r.max)
		}
		return Errorf(CodeBadRequest, "%s is longer than %d characters", r.field, r.max)
	}
	for _, c := range s {
		if unicode.IsControl(c) && !(r.multiline && (c == '\n' || c == '\r' || c == '\t')) {
			return Errorf(CodeBadRequest, "%s must not contain control characters (found U+%04X)", r.field, c)
		}
	}
	return nil
}

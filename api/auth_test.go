package api

import (
	"errors"
	"strings"
	"testing"

	"github.com/concertd/concertd/engine"
)

// TestLegacyToken reads the "userToken" body field the way older clients send it:
// a string is the token; absent, null or a body that is not a JSON object is no
// token (the caller answers 401 TOKEN_MISSING); any other JSON value is a
// BAD_REQUEST that says what is wrong.
func TestLegacyToken(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, body string
		want       string
		bad        bool // BAD_REQUEST "userToken must be a string"
	}{
		{"string", `{"userToken":"v1.abc"}`, "v1.abc", false},
		{"string among other fields", `{"amount":5,"userToken":"v1.abc"}`, "v1.abc", false},
		{"key in other case", `{"UserToken":"v1.abc"}`, "v1.abc", false},
		{"empty body", ``, "", false},
		{"no userToken", `{"amount":5}`, "", false},
		{"null", `{"userToken":null}`, "", false},
		{"empty string", `{"userToken":""}`, "", false},
		{"truncated", `{"userToken":5`, "", false},
		{"not JSON", `userToken=v1.abc`, "", false},
		{"array body", `[{"userToken":5}]`, "", false},
		{"string body", `"v1.abc"`, "", false},
		{"number", `{"userToken":5}`, "", true},
		{"object", `{"userToken":{"token":"v1.abc"}}`, "", true},
		{"array", `{"userToken":["v1.abc"]}`, "", true},
		{"true", `{"userToken":true}`, "", true},
		{"number in other case", `{"USERTOKEN":5}`, "", true},
		{"number after a string", `{"userToken":"v1.abc","userToken":5}`, "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := legacyToken([]byte(c.body))
			if c.bad {
				var e *engine.Error
				if !errors.As(err, &e) || e.Code != engine.CodeBadRequest || !strings.HasPrefix(e.Message, "userToken must be a string") {
					t.Fatalf("legacyToken(%s) = %q, %v; want BAD_REQUEST \"userToken must be a string…\"", c.body, got, err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("legacyToken(%s) = %q, %v; want %q, nil", c.body, got, err, c.want)
			}
		})
	}
}

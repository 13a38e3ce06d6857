package api

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestAPIReferenceIsCurrent fails when docs/API.md is not what api/openapi.go
// gives: a route or field added to the table needs `make docs`.
func TestAPIReferenceIsCurrent(t *testing.T) {
	t.Parallel()
	got, err := os.ReadFile("../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := Reference(); !bytes.Equal(got, want) {
		t.Fatal("docs/API.md is stale: run `make docs` and commit it")
	}
}

// TestAPIReferenceCoversEveryOperation: each operation of the table has its
// heading, each schema and each error code its entry.
func TestAPIReferenceCoversEveryOperation(t *testing.T) {
	t.Parallel()
	ref := string(Reference())
	for _, op := range operations {
		if !strings.Contains(ref, "### `"+op.method+" "+op.path+"`") {
			t.Errorf("no heading for %s %s", op.method, op.path)
		}
	}
	for name := range schemas() {
		if !strings.Contains(ref, "\n### "+name+"\n") {
			t.Errorf("no entry for schema %s", name)
		}
	}
	for c := range statusOf {
		if !strings.Contains(ref, "| `"+string(c)+"` |") {
			t.Errorf("no entry for code %s", c)
		}
	}
}

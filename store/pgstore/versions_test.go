package pgstore_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// migrationVersions lists the numbers of the migration files, in order: what a
// fresh database's schema_migrations must hold after Open.
func migrationVersions(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var vs []int
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		if v, err := strconv.Atoi(num); ok && err == nil && strings.HasSuffix(e.Name(), ".up.sql") {
			vs = append(vs, v)
		}
	}
	return vs
}

package storetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestRemoveStaleClusterDirs(t *testing.T) {
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	dir := func(pid int) string {
		d := filepath.Join(tmp, fmt.Sprintf("%s%d-123", clusterDirPrefix, pid))
		if err := os.MkdirAll(filepath.Join(d, "0"), 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	stale, live := dir(gone.Process.Pid), dir(os.Getpid())
	other := filepath.Join(tmp, "concertd-other-1-2")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}

	removeStaleClusterDirs(tmp)

	for _, c := range []struct {
		dir  string
		kept bool
	}{{stale, false}, {live, true}, {other, true}} {
		_, err := os.Stat(c.dir)
		if kept := err == nil; kept != c.kept {
			t.Errorf("%s: kept %v, want %v (%v)", filepath.Base(c.dir), kept, c.kept, err)
		}
	}
}

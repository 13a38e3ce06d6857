// Package proctest builds the concertd binary and runs it as a process, for the
// tests that drive a whole server from outside its package: bench/k6check and
// test/soak.
package proctest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/concertd/concertd/store/storetest"
)

// Proc is one running concertd.
type Proc struct {
	Cmd  *exec.Cmd
	Base string // http://127.0.0.1:port
}

// Build compiles cmd/concertd with the race detector into the test's temp dir.
func Build(t testing.TB) string {
	t.Helper()
	bin, err := BuildTo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// BuildTo compiles cmd/concertd with the race detector into dir (for a TestMain
// that builds once for a whole package) and returns the binary's path.
func BuildTo(dir string) (string, error) {
	bin := filepath.Join(dir, "concertd")
	out, err := exec.Command("go", "build", "-race", "-o", bin, "github.com/concertd/concertd/cmd/concertd").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

// RedisURL is the Redis the tests use: $TEST_REDIS_URL, or the local default.
func RedisURL() string {
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		return u
	}
	return storetest.DefaultRedisURL
}

// Launch starts bin with env added to the test's environment on a free port,
// and returns once /healthz answers 200. The test's cleanup sends SIGTERM and
// waits for the process. Error-level log lines and panics go to the test log.
func Launch(t testing.TB, bin string, env []string) *Proc {
	t.Helper()
	port := FreePort(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), append(env, "CONCERTD_ADDR=127.0.0.1:"+port)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { // keep the pipe drained
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if l := sc.Text(); strings.Contains(l, `"level":"error"`) || strings.Contains(l, "panic") {
				t.Log(l)
			}
		}
	}()
	p := &Proc{Cmd: cmd, Base: "http://127.0.0.1:" + port}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := healthy(p.Base)
		if err == nil {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("concertd on port %s never answered /healthz: %v", port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func healthy(base string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// FreePort is a port nothing listened on a moment ago.
func FreePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

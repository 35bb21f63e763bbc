// Package testutil holds helpers shared by tests: finding the real programs
// integration tests need, and free ports.
package testutil

import (
	"encoding/csv"
	"net"
	"os"
	"os/exec"
	"testing"
)

// RequireEnv is the variable CI sets so that an integration test whose
// program or server is missing fails instead of skipping.
const RequireEnv = "REQUIRE_INTEGRATION"

// Required reports whether integration prerequisites are mandatory.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Unavailable skips the test with reason on a developer's machine, and
// fails it where integration tests are required (CI).
func Unavailable(t testing.TB, reason string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s (%s=1: integration prerequisites are required)", reason, RequireEnv)
	}
	t.Skipf("skipping: %s (set %s=1 to make this a failure)", reason, RequireEnv)
}

// Program returns the path of a program the test needs, or skips/fails as
// Unavailable does.
func Program(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, name+" is not installed")
	}
	return p
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close() //nolint:errcheck // closing a probe listener
	return l.Addr().(*net.TCPAddr).Port
}

// TCPReachable reports whether something listens on addr.
func TCPReachable(addr string) bool {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// ReadCSV returns every record of a CSV file, the header first, read with
// encoding/csv: a reading of the file independent of the code under test.
func ReadCSV(t testing.TB, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // read-only
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return rows
}

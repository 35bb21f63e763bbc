package testutil

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// VersitygwVersion is the versitygw release the tests run against
// (.ci/run installs it with go install).
const VersitygwVersion = "v1.8.0"

// S3Server is a running versitygw: a real S3 protocol server over a
// directory (its posix backend), one bucket per subdirectory.
type S3Server struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	// Root is the directory holding the buckets; Versions the directory
	// of versioned objects' older versions.
	Root, Versions string
}

// Versitygw starts versitygw on a free loopback port over root (a new
// temporary directory when root is ""), and stops it when the test ends.
// It looks for the program on PATH and in $(go env GOPATH)/bin, and skips
// (or fails under REQUIRE_INTEGRATION=1) when it is in neither.
func Versitygw(t testing.TB, root string) *S3Server {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		gopath := os.Getenv("GOPATH")
		if gopath == "" {
			if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
				gopath = string(out[:len(out)-1])
			}
		}
		bin = filepath.Join(gopath, "bin", "versitygw")
		if _, err := os.Stat(bin); err != nil {
			Unavailable(t, "versitygw is not installed (go install github.com/versity/versitygw/cmd/versitygw@"+VersitygwVersion+")")
		}
	}
	if root == "" {
		root = t.TempDir()
	}
	versions := root + ".versions"
	if err := os.MkdirAll(versions, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &S3Server{AccessKey: "restorable-test", SecretKey: "restorable-test-secret", Root: root, Versions: versions}
	port := FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s.Endpoint = "http://" + addr
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--port", addr, "posix", "--versioning-dir", versions, root)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	logFile, err := os.CreateTemp("", "versitygw-*.log")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start versitygw: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		_ = logFile.Close()
		_ = os.Remove(logFile.Name())
	})
	deadline := time.Now().Add(20 * time.Second)
	for !TCPReachable(addr) {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("versitygw did not listen on %s within 20s: %s", addr, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

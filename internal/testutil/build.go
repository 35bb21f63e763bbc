package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// GoBuild builds the command in pkg (a path relative to the test's package
// directory, such as "../../cmd/restorable", or ".") into the test's
// temporary directory and returns the program's path, named after the
// package's directory; the Go build cache makes a
// second build of the same package quick.
func GoBuild(t testing.TB, pkg string) string {
	t.Helper()
	abs, err := filepath.Abs(pkg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), filepath.Base(abs))
	cmd := exec.Command("go", "build", "-o", path, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return path
}

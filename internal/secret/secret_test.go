package secret

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The secret comes back trimmed from a file or the environment, and no
// error ever contains it.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "dsn")
	if err := os.WriteFile(file, []byte("  postgres://u:hunter2@db/x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := Read(file, ""); err != nil || v != "postgres://u:hunter2@db/x" {
		t.Fatalf("file: %q, %v", v, err)
	}
	t.Setenv("RESTORABLE_TEST_DSN", "postgres://u:hunter2@db/y ")
	if v, err := Read("", "RESTORABLE_TEST_DSN"); err != nil || v != "postgres://u:hunter2@db/y" {
		t.Fatalf("env: %q, %v", v, err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RESTORABLE_TEST_BLANK", " ")
	for _, c := range [][2]string{{empty, ""}, {filepath.Join(dir, "missing"), ""}, {"", "RESTORABLE_TEST_BLANK"}, {"", "RESTORABLE_TEST_UNSET"}, {"", ""}} {
		_, err := Read(c[0], c[1])
		if err == nil {
			t.Errorf("Read(%q, %q): no error", c[0], c[1])
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error shows the secret: %v", err)
		}
	}
}

// Exactly one of the two flags: both or neither is refused, naming what
// was wanted.
func TestFromFlags(t *testing.T) {
	t.Setenv("RESTORABLE_TEST_DSN", "postgres://db/z")
	if v, err := FromFlags("", "RESTORABLE_TEST_DSN", "the DSN"); err != nil || v != "postgres://db/z" {
		t.Fatalf("env: %q, %v", v, err)
	}
	if _, err := FromFlags("f", "RESTORABLE_TEST_DSN", "the DSN"); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("both: %v", err)
	}
	if _, err := FromFlags("", "", "the DSN"); err == nil || !strings.Contains(err.Error(), "give the DSN with") {
		t.Errorf("neither: %v", err)
	}
}

package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestVersionLeavesNoFieldBlank builds the exporter as a plain go build
// does, without the Makefile's -ldflags, and checks --version still gives
// every field a value.
func TestVersionLeavesNoFieldBlank(t *testing.T) {
	out, err := exec.Command(buildExporter(t), "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	text := string(out)
	if !strings.HasPrefix(text, "restorable_exporter, version ") || strings.Contains(text, "version  (") || strings.Contains(text, "branch: ,") {
		t.Errorf("--version:\n%s", text)
	}
	for _, field := range []string{"build user:", "build date:"} {
		_, rest, ok := strings.Cut(text, field)
		value, _, _ := strings.Cut(rest, "\n")
		if !ok || strings.TrimSpace(value) == "" {
			t.Errorf("--version leaves %q blank:\n%s", field, text)
		}
	}
}

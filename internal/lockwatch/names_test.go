package lockwatch

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestApplicationNames(t *testing.T) {
	if got := ApplicationName("backup", "payments-db"); got != "restorable-lock:backup:payments-db" {
		t.Errorf("ApplicationName = %q", got)
	}
	if got := WaitingName("migration", "payments-db"); got != "restorable-lock-wait:migration:payments-db" {
		t.Errorf("WaitingName = %q", got)
	}
	long := ApplicationName("migration", strings.Repeat("é", 40))
	if len(long) > 63 || !utf8.ValidString(long) || !strings.HasPrefix(long, "restorable-lock:migration:é") {
		t.Errorf("a long name becomes %q (%d bytes)", long, len(long))
	}
	for name, want := range map[string]string{
		"restorable-lock:backup:k":                          "backup",
		"restorable-lock:migration:k":                       "migration",
		"restorable-lock:restore:k":                         "",
		"restorable-lock-wait:backup:k":                     "",
		"psql":                                              "",
		ApplicationName("backup", strings.Repeat("x", 100)): "backup",
	} {
		if got := PurposeOf(name); got != want {
			t.Errorf("PurposeOf(%q) = %q, want %q", name, got, want)
		}
	}
}

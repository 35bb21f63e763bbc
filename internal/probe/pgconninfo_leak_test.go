package probe

import (
	"strings"
	"testing"
)

// A password with a space written without quotes must not come back in
// the error that refuses the connection string.
func TestConninfoErrorsDoNotEchoValueFragments(t *testing.T) {
	for _, dsn := range []string{
		"host=db password=hunter2 s3cr3tTail",
		"host=db password=hunter2 s3cr3tTail=x",
	} {
		_, err := parseConninfo(dsn)
		if err == nil {
			t.Fatalf("%q: accepted", dsn)
		}
		if strings.Contains(err.Error(), "s3cr3tTail") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: error echoes the password: %v", dsn, err)
		}
	}
}

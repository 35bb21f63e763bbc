// Package secret reads a secret (a connection string, a token) from the
// file or the environment variable a user named. Errors say where the
// secret was looked for, never what was found.
package secret

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Read returns the secret in file (surrounding whitespace removed) or, when
// file is empty, in the environment variable env. An empty secret is an
// error, and so is naming neither place.
func Read(file, env string) (string, error) {
	var v string
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", file, errors.Unwrap(err))
		}
		if v = strings.TrimSpace(string(b)); v == "" {
			return "", fmt.Errorf("%s is empty", file)
		}
	case env != "":
		if v = strings.TrimSpace(os.Getenv(env)); v == "" {
			return "", fmt.Errorf("environment variable %s is empty or not set", env)
		}
	default:
		return "", errors.New("no file and no environment variable named")
	}
	return v, nil
}

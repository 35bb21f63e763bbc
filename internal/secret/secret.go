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

// FromFlags reads a secret given on a command line as --dsn-file or
// --dsn-env: exactly one of them, else an error naming what was wanted.
func FromFlags(file, env, what string) (string, error) {
	switch {
	case env != "" && file != "":
		return "", errors.New("give --dsn-env or --dsn-file, not both")
	case env == "" && file == "":
		return "", fmt.Errorf("give %s with --dsn-env or --dsn-file", what)
	}
	return Read(file, env)
}

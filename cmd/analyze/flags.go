package main

import (
	"fmt"
	"net/url"
)

// urlFlag is a flag that holds an http or https base URL. Given empty (as
// `--flag "$UNSET"` gives it) it is an error: a check the user asked for
// must not be skipped in silence because a variable was not set.
type urlFlag struct {
	name   string
	target *string
}

func (f urlFlag) Set(s string) error {
	if s == "" {
		return fmt.Errorf("--%s is empty: give a URL such as http://host:port, or leave the flag out", f.name)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("--%s: %q is not a URL: %w", f.name, s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("--%s: %q is not an http or https URL", f.name, s)
	}
	*f.target = s
	return nil
}

func (f urlFlag) String() string {
	if f.target == nil {
		return ""
	}
	return *f.target
}

package probe

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/restorable/restorable/internal/runx"
)

// dsnRef names a database connection string. An inline dsn may not hold a
// password; a password belongs in a file or an environment variable, so
// that the configuration can be shared and logged.
type dsnRef struct {
	DSN     string `yaml:"dsn,omitempty"`
	DSNFile string `yaml:"dsn_file,omitempty"`
	DSNEnv  string `yaml:"dsn_env,omitempty"`
}

func (d *dsnRef) isSet() bool { return d != nil && (d.DSN != "" || d.DSNFile != "" || d.DSNEnv != "") }

// check validates the reference without reading files or the environment;
// hasPassword reports whether an inline DSN holds a password.
func (d *dsnRef) check(b *builder, field string, hasPassword func(string) (bool, error)) error {
	n := 0
	for _, v := range []string{d.DSN, d.DSNFile, d.DSNEnv} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return b.errorf("%s: set exactly one of dsn, dsn_file, dsn_env", field)
	}
	if d.DSN != "" {
		pw, err := hasPassword(d.DSN)
		if err != nil {
			return b.errorf("%s.dsn: %v", field, err)
		}
		if pw {
			return b.errorf("%s.dsn: holds a password; put the DSN in dsn_file or dsn_env instead", field)
		}
	}
	if d.DSNFile != "" && !filepath.IsAbs(d.DSNFile) {
		d.DSNFile = filepath.Join(configDir(b.cfg), d.DSNFile)
	}
	return nil
}

// resolve reads the DSN. Errors never include it.
func (d *dsnRef) resolve(what string) (string, error) {
	switch {
	case d.DSN != "":
		return d.DSN, nil
	case d.DSNFile != "":
		data, err := os.ReadFile(d.DSNFile)
		if err != nil {
			return "", runx.Errorf(runx.KindConfig, "read %s dsn_file: %w", what, err)
		}
		return strings.TrimSpace(string(data)), nil
	default:
		v, ok := os.LookupEnv(d.DSNEnv)
		if !ok || strings.TrimSpace(v) == "" {
			return "", runx.Errorf(runx.KindConfig, "%s dsn_env: environment variable %s is not set", what, d.DSNEnv)
		}
		return strings.TrimSpace(v), nil
	}
}

// endpoint is where a database lives, for the check that a sandbox is not
// the source.
type endpoint struct {
	hosts    []string // host names, IP addresses or socket directories
	port     string
	database string
}

// sameServer reports whether two endpoints may reach the same server: they
// share a port and an address after resolving names. Loopback addresses
// and Unix socket directories all count as "this machine".
func sameServer(ctx context.Context, a, b endpoint) bool {
	if a.port != b.port {
		return false
	}
	aa, ba := resolveHosts(ctx, a.hosts), resolveHosts(ctx, b.hosts)
	for _, x := range aa {
		if slices.Contains(ba, x) {
			return true
		}
	}
	return false
}

func resolveHosts(ctx context.Context, hosts []string) []string {
	var out []string
	for _, h := range hosts {
		if h == "" || strings.HasPrefix(h, "/") || strings.HasPrefix(h, "@") || h == "localhost" {
			out = append(out, "local")
			continue
		}
		addrs := []string{h}
		if ip := net.ParseIP(h); ip == nil {
			if res, err := net.DefaultResolver.LookupHost(ctx, h); err == nil {
				addrs = res
			}
		}
		for _, a := range addrs {
			if ip := net.ParseIP(a); ip != nil && ip.IsLoopback() {
				out = append(out, "local")
				continue
			}
			out = append(out, strings.ToLower(a))
		}
	}
	return out
}

// refuseSameAsSource refuses a sandbox that resolves to the source's server
// and database: a restore there would overwrite the data it protects.
func refuseSameAsSource(ctx context.Context, sandbox, source endpoint, scratch string) error {
	if !sameServer(ctx, sandbox, source) {
		return nil
	}
	if sandbox.database == source.database || scratch == source.database {
		return runx.Errorf(runx.KindConfig, "refusing to run: the sandbox resolves to the source's server and database %s", source.database)
	}
	return nil
}

// describe names an endpoint for messages and sandbox records, without
// credentials.
func (e endpoint) server() string {
	return fmt.Sprintf("%s:%s", strings.Join(e.hosts, ","), e.port)
}

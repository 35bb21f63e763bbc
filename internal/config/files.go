package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// CheckFiles reports a file or directory that a source names and that
// does not exist or cannot be opened: a restic password_file, a pgBackRest
// config, a manifest dir, a restic or pgbackrest binary given as a path.
// Load does not look at the file system, so that a configuration can be
// checked on another machine for its shape; --config.check also runs
// CheckFiles, because a missing secret would otherwise surface only as a
// failing collection.
func (c *Config) CheckFiles() error {
	for i, s := range c.Sources {
		where := fmt.Sprintf("sources[%d] (%s)", i, s.Name)
		var checks []fileCheck
		if o := s.Restic; o != nil {
			checks = append(checks, fileCheck{[]any{"restic", "password_file"}, o.PasswordFile, false})
			if strings.Contains(o.Binary, "/") {
				checks = append(checks, fileCheck{[]any{"restic", "binary"}, o.Binary, false})
			}
		}
		if o := s.PgBackRest; o != nil {
			checks = append(checks, fileCheck{[]any{"pgbackrest", "config"}, o.Config, false})
			if strings.Contains(o.Binary, "/") {
				checks = append(checks, fileCheck{[]any{"pgbackrest", "binary"}, o.Binary, false})
			}
		}
		if o := s.WALG; o != nil {
			checks = append(checks, fileCheck{[]any{"walg", "config"}, o.Config, false})
			if strings.Contains(o.Binary, "/") {
				checks = append(checks, fileCheck{[]any{"walg", "binary"}, o.Binary, false})
			}
		}
		if o := s.Velero; o != nil {
			checks = append(checks, fileCheck{[]any{"velero", "kubeconfig"}, o.Kubeconfig, false}, fileCheck{[]any{"velero", "file"}, o.File, false})
			if strings.Contains(o.Binary, "/") {
				checks = append(checks, fileCheck{[]any{"velero", "binary"}, o.Binary, false})
			}
		}
		if o := s.Manifest; o != nil {
			checks = append(checks, fileCheck{[]any{"manifest", "dir"}, o.Dir, true})
		}
		for _, fc := range checks {
			if err := fc.check(); err != nil {
				path := append([]any{"sources", i}, fc.field...)
				return prefixFile(c.File, errAt(c.lineOf(path...), "%s.%s.%s: %v", where, fc.field[0], fc.field[1], err))
			}
		}
	}
	if l := c.Locks; l != nil {
		if err := (fileCheck{path: l.DSNFile}).check(); err != nil {
			return prefixFile(c.File, errAt(c.lineOf("locks", "dsn_file"), "locks.dsn_file: %v", err))
		}
	}
	if c.Events != nil {
		for _, name := range EventSenders {
			if s := c.Events.Sender(name); s != nil {
				if err := (fileCheck{path: s.SecretFile}).check(); err != nil {
					return prefixFile(c.File, errAt(c.lineOf("events", name, "secret_file"), "events.%s.secret_file: %v", name, err))
				}
			}
		}
	}
	return nil
}

type fileCheck struct {
	field []any
	path  string
	dir   bool
}

func (fc fileCheck) check() error {
	if fc.path == "" {
		return nil
	}
	st, err := os.Stat(fc.path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s does not exist", fc.path)
	}
	if err != nil {
		return fmt.Errorf("stat %s: %w", fc.path, err)
	}
	if fc.dir != st.IsDir() {
		if fc.dir {
			return fmt.Errorf("%s is not a directory", fc.path)
		}
		return fmt.Errorf("%s is a directory", fc.path)
	}
	if !fc.dir {
		f, err := os.Open(fc.path)
		if err != nil {
			return fmt.Errorf("open %s: %w", fc.path, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("close %s: %w", fc.path, err)
		}
	}
	return nil
}

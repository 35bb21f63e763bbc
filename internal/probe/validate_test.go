package probe

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/restorable/restorable/internal/config"
)

// Validate refuses, before any run, what the first run would fail on or
// what would put the source at risk.
func TestValidateRefusesWhatARunWould(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The password in these files must never appear in a message.
	write("sandbox-is-source.dsn", "postgres://u:s3cret@localhost:5432/payments\n")
	write("sandbox-elsewhere.dsn", "host=10.0.0.2 port=5432 user=u password=s3cret dbname=postgres\n")
	write("mysql-sandbox-is-source.dsn", "root:s3cret@tcp(127.0.0.1:3306)/shop\n")
	write("pass", "x\n")
	write("ok.sh", "#!/bin/sh\n")
	for _, tc := range []struct {
		name, probe, want string
	}{
		{"kind misspelt", "kind: artefact\n    source: releases",
			`probes[0] (p).kind: "artefact" is not one of artifact, command, mysql-logical, pgbackrest, postgres-logical, restic`},
		{"option misspelt", "kind: artifact\n    source: releases\n    options: {base_dirr: x}",
			`probes[0] (p).options: unknown field "base_dirr" (did you mean "base_dir"?)`},
		{"sandbox dsn_file missing", "kind: postgres-logical\n    options: {sandbox: {dsn_file: nope.dsn}, dump: /x.dump}",
			"probes[0] (p).options: sandbox.dsn_file: " + filepath.Join(dir, "nope.dsn") + " does not exist"},
		{"sandbox from a file is the source", "kind: postgres-logical\n    options: {sandbox: {dsn_file: sandbox-is-source.dsn}, dump_from: {dsn: 'host=127.0.0.1 port=5432 dbname=payments user=u'}}",
			"probes[0] (p).options: refusing to run: the sandbox resolves to the source's server and database payments"},
		{"scratch named like the source", "kind: postgres-logical\n    options: {sandbox: {dsn_file: sandbox-elsewhere.dsn}, database: restorable_probe_pay, dump_from: {dsn: 'host=10.0.0.1 dbname=restorable_probe_pay user=u'}}",
			"probes[0] (p).options: database: the scratch database restorable_probe_pay has the source database's name"},
		{"mysql sandbox from a file is the source", "kind: mysql-logical\n    options: {sandbox: {dsn_file: mysql-sandbox-is-source.dsn}, dump_from: {dsn: 'root@tcp(localhost:3306)/shop'}}",
			"refusing to run: the sandbox resolves to the source's server and database shop"},
		{"restic password_file missing", "kind: restic\n    options: {repository: /srv/restic, password_file: missing-pass}",
			"probes[0] (p).options: password_file: " + filepath.Join(dir, "missing-pass") + " does not exist"},
		{"pgbackrest config missing", "kind: pgbackrest\n    options: {stanza: main, config: /nonexistent/pgbackrest.conf}",
			"probes[0] (p).options: config: /nonexistent/pgbackrest.conf does not exist"},
		{"relative command missing", "kind: command\n    options: {command: [./missing.sh]}",
			"probes[0] (p).options: command: " + filepath.Join(dir, "missing.sh") + " does not exist"},
		{"command not on PATH", "kind: command\n    options: {command: [restorable-no-such-program]}",
			`probes[0] (p).options: command: "restorable-no-such-program" is not on PATH`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, dir, validateYAML(tc.probe))
			err := Validate(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if !regexp.MustCompile(`^` + regexp.QuoteMeta(filepath.Join(dir, "restorable.yml")) + `:(9|12): `).MatchString(err.Error()) {
				t.Errorf("error does not start with the file and the probe's line: %v", err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
	// The same probes with everything in place pass.
	for _, probe := range []string{
		"kind: postgres-logical\n    options: {sandbox: {dsn_file: sandbox-elsewhere.dsn}, dump_from: {dsn: 'host=10.0.0.1 dbname=payments user=u'}}",
		"kind: restic\n    options: {repository: /srv/restic, password_file: pass}",
		"kind: command\n    options: {command: [./ok.sh]}",
		"kind: command\n    options: {command: [sh, -c, 'exit 0']}",
		"kind: postgres-logical\n    options: {sandbox: {dsn_env: RESTORABLE_TEST_UNSET_DSN}, dump: /x.dump}",
	} {
		cfg := loadConfig(t, dir, validateYAML(probe))
		if err := Validate(context.Background(), cfg); err != nil {
			t.Errorf("%s: %v", probe, err)
		}
	}
}

func validateYAML(probe string) string {
	return "environments:\n  prod: {rpo: 1h}\nsources:\n  - name: releases\n    type: manifest\n    env: prod\n    manifest: {dir: m}\nprobes:\n  - name: p\n    " + probe + "\n"
}

// A command given as ./helper.sh next to a configuration read from the
// working directory ("--config.file=restorable.yml") runs that file, not a
// program of the same name on PATH.
func TestRelativeCommandIsTheOneNextToTheConfig(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	for d, says := range map[string]string{dir: "next to the config", elsewhere: "from PATH"} {
		if err := os.WriteFile(filepath.Join(d, "helper.sh"), []byte("#!/bin/sh\necho '"+says+"'\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", elsewhere+string(os.PathListSeparator)+os.Getenv("PATH"))
	if err := os.WriteFile(filepath.Join(dir, "restorable.yml"), []byte("environments:\n  prod: {rpo: 1h}\nprobes:\n  - {name: c, kind: command, env: prod, options: {command: [./helper.sh]}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	cfg, err := config.Load("restorable.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, cfg, catalogs{})
	h.start(t)
	// Run from another working directory, as a daemon might.
	t.Chdir(t.TempDir())
	if r := h.run(t, "c"); !r.Success || !strings.Contains(r.Details, "next to the config") {
		t.Fatalf("ran the wrong helper: %+v", r)
	}
}

// The schema's option types cover exactly the kinds a configuration may
// name.
func TestOptionTypesListEveryKind(t *testing.T) {
	var got []string
	for k, typ := range OptionTypes() {
		got = append(got, k)
		if typ.Kind() != reflect.Struct {
			t.Errorf("%s: options type %s is not a struct", k, typ)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, Kinds()) {
		t.Errorf("OptionTypes kinds %v, NewManager accepts %v", got, Kinds())
	}
}

package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadGood(t *testing.T) {
	c, err := Load("testdata/good.yml")
	if err != nil {
		t.Fatal(err)
	}
	prod := c.Environments["prod"]
	if prod.RPO.D() != time.Hour || prod.Retention.MinAge.D() != 35*24*time.Hour || prod.Retention.Releases != 3 {
		t.Errorf("prod policy = %+v", prod)
	}
	if got := c.Environments["staging"].Retention.Releases; got != DefaultReleasesKept {
		t.Errorf("staging releases default = %d, want %d", got, DefaultReleasesKept)
	}
	if got := c.Environments["prod"].ArchiveAfter; got != DefaultArchiveAfter {
		t.Errorf("archive_after default = %s, want 90d", got)
	}
	if got := c.Environments["staging"].ArchiveAfter.D(); got != 30*24*time.Hour {
		t.Errorf("staging archive_after = %s", got)
	}
	if got := c.Sources[2].Interval; got != DefaultInterval {
		t.Errorf("interval default = %q", got)
	}
	if got := c.Sources[0].Timeout; got != DefaultTimeout {
		t.Errorf("timeout default = %s", got)
	}
	abs, _ := filepath.Abs("testdata")
	if got, want := c.History.Root, filepath.Join(abs, "history"); got != want {
		t.Errorf("history root = %q, want %q (relative to the config file)", got, want)
	}
	if got, want := c.Sources[1].Restic.PasswordFile, filepath.Join(abs, "secrets/restic"); got != want {
		t.Errorf("password_file = %q, want %q", got, want)
	}
	if got := c.Sources[0].PgBackRest.Config; got != "/etc/pgbackrest/pgbackrest.conf" {
		t.Errorf("absolute path changed: %q", got)
	}
	if got := c.Sources[1].DatasetFrom; got != "tag:app" {
		t.Errorf("dataset_from = %q", got)
	}
}

// invalidFiles maps every invalid configuration in testdata to the exact
// error the loader must give for it.
func invalidFiles() map[string]string {
	return map[string]string{
		"invalid-unknown-key.yml":            `testdata/invalid-unknown-key.yml:4: environments.prod: unknown field "retension" (did you mean "retention"?)`,
		"invalid-bad-duration.yml":           `testdata/invalid-bad-duration.yml:3: environments.prod.rpo: invalid duration "one hour": use a number with a unit such as 90s, 5m, 1h, 35d or 2w`,
		"invalid-no-environments.yml":        `testdata/invalid-no-environments.yml:1: environments: at least one environment is required`,
		"invalid-rpo-missing.yml":            `testdata/invalid-rpo-missing.yml:3: environments.prod.rpo: must be greater than 0`,
		"invalid-source-type.yml":            `testdata/invalid-source-type.yml:4: sources[0] (a).type: "borg" is not one of manifest, restic, pgbackrest, costexplorer, s3requests, walg, velero, awsbackup, s3, billing`,
		"invalid-billing-path.yml":           `testdata/invalid-billing-path.yml:4: sources[0] (bills).billing.path: required for a billing source`,
		"invalid-billing-bucket-env.yml":     `testdata/invalid-billing-bucket-env.yml:10: sources[0] (bills).billing.attribution.buckets.acme-backups.env: unknown environment "production"`,
		"invalid-billing-format.yml":         `testdata/invalid-billing-format.yml:4: sources[0] (bills).billing.format: "csv" is not one of auto, focus, cur, cur2`,
		"invalid-duplicate-source.yml":       `testdata/invalid-duplicate-source.yml:7: sources[1] (a).name: duplicate of the source on line 4`,
		"invalid-unknown-env.yml":            `testdata/invalid-unknown-env.yml:4: sources[0] (a).env: unknown environment "production"`,
		"invalid-schedule.yml":               `testdata/invalid-schedule.yml:6: sources[0] (a).interval: invalid schedule "every five minutes": expected exactly 5 fields, found 3: [every five minutes]`,
		"invalid-restic-inline-password.yml": `testdata/invalid-restic-inline-password.yml:6: sources[0].restic: unknown field "password" (secrets are never accepted inline: use password_file or password_env)`,
		"invalid-restic-no-password.yml":     `testdata/invalid-restic-no-password.yml:4: sources[0] (files).restic: set password_file or password_env (a password is never accepted inline)`,
		"invalid-options-mismatch.yml":       `testdata/invalid-options-mismatch.yml:4: sources[0] (a).restic: options of another type; this source's type is manifest`,
		"invalid-releases-type.yml":          `testdata/invalid-releases-type.yml:4: environments.prod.retention.releases: "three" is not a whole number`,
		"invalid-encryption.yml":             `testdata/invalid-encryption.yml:3: environments.prod.require.encryption: "aes" is not one of "any", "kms"`,
		"invalid-kms-without-kms.yml":        `testdata/invalid-kms-without-kms.yml:3: environments.prod.require.kms_keys: set encryption: kms to use a key allowlist`,
		"invalid-min-over-max.yml":           `testdata/invalid-min-over-max.yml:3: environments.prod.retention: min_age 400d is larger than max_age 5w`,
		"invalid-classification.yml":         `testdata/invalid-classification.yml:4: sources[0] (a).classification: unknown classification "phi"`,
		"invalid-probe-source.yml":           `testdata/invalid-probe-source.yml:4: probes[0] (p).source: unknown source "nope"`,
		"invalid-probe-name-colon.yml":       `testdata/invalid-probe-name-colon.yml:4: probes[0] (aws-backup:x).name: may not contain a colon: names with one are those of the restore tests sources report (aws-backup:...)`,
		"invalid-dataset-from.yml":           `testdata/invalid-dataset-from.yml:4: sources[0] (a).dataset_from: "hostname" is not host, path, stanza, schedule, vault or tag:KEY`,
		"invalid-yaml-syntax.yml":            `testdata/invalid-yaml-syntax.yml:1: did not find expected ',' or '}'`,
		"invalid-list-expected.yml":          `testdata/invalid-list-expected.yml:2: environments.prod.regions: expected a list`,
		// Null entries (issue #10.2): each used to panic.
		"invalid-null-environment.yml":    `testdata/invalid-null-environment.yml:2: environments.prod: has no value (null): give it one or remove it`,
		"invalid-null-source.yml":         `testdata/invalid-null-source.yml:3: sources[0]: has no value (null): give it one or remove it`,
		"invalid-null-probe.yml":          `testdata/invalid-null-probe.yml:4: probes[0]: has no value (null): give it one or remove it`,
		"invalid-null-classification.yml": `testdata/invalid-null-classification.yml:4: classifications.pii: has no value (null): give it one or remove it`,
		"invalid-null-list-item.yml":      `testdata/invalid-null-list-item.yml:3: environments.staging.regions[1]: has no value (null): give it one or remove it`,
		// Schedules, timeouts and documents (issue #10.8).
		"invalid-every-negative.yml":             `testdata/invalid-every-negative.yml:6: sources[0] (a).interval: invalid schedule "@every -5m": invalid duration "-5m": must not be negative`,
		"invalid-every-1ns.yml":                  `testdata/invalid-every-1ns.yml:6: sources[0] (a).interval: invalid schedule "@every 1ns": invalid duration "1ns": the smallest unit is ms`,
		"invalid-interval-too-short.yml":         `testdata/invalid-interval-too-short.yml:6: sources[0] (a).interval: invalid schedule "500ms": runs must be at least 1s apart`,
		"invalid-interval-fraction.yml":          `testdata/invalid-interval-fraction.yml:6: sources[0] (a).interval: invalid schedule "@every 1500ms": use a whole number of seconds`,
		"invalid-probe-schedule-zero.yml":        `testdata/invalid-probe-schedule-zero.yml:6: probes[0] (p).schedule: invalid schedule "@every 0s": runs must be at least 1s apart`,
		"invalid-schedule-never-fires.yml":       `testdata/invalid-schedule-never-fires.yml:6: sources[0] (a).interval: invalid schedule "0 3 30 2 *": it never fires`,
		"invalid-timeout-zero.yml":               `testdata/invalid-timeout-zero.yml:6: sources[0] (a).timeout: must be greater than 0 (every collection needs a deadline)`,
		"invalid-probe-timeout-zero.yml":         `testdata/invalid-probe-timeout-zero.yml:6: probes[0] (p).timeout: must be greater than 0 (every probe run needs a deadline)`,
		"invalid-stats-interval-zero.yml":        `testdata/invalid-stats-interval-zero.yml:6: sources[0] (files).restic.stats_interval: must be greater than 0`,
		"invalid-concurrency-zero.yml":           `testdata/invalid-concurrency-zero.yml:4: collection.concurrency: must be at least 1`,
		"invalid-second-document.yml":            `testdata/invalid-second-document.yml:4: a second YAML document: Restorable reads one document per file; merge it into the first or remove the ---`,
		"invalid-checks-env.yml":                 `testdata/invalid-checks-env.yml:5: checks.ephemeral.envs[1]: unknown environment "qa"`,
		"invalid-late-grace.yml":                 `testdata/invalid-late-grace.yml:5: checks.late.grace: invalid duration "-5m": must not be negative`,
		"invalid-dataset-from-restic-stanza.yml": `testdata/invalid-dataset-from-restic-stanza.yml:4: sources[0] (files).dataset_from: stanza does not apply to a restic source; use host, path or tag:KEY`,
		"invalid-walg-env-value.yml":             `testdata/invalid-walg-env-value.yml:4: sources[0] (pg).walg.env: "AWS_SECRET_ACCESS_KEY=abc" is not the name of an environment variable (values are never written here; name the variable)`,
		"invalid-dataset-from-walg.yml":          `testdata/invalid-dataset-from-walg.yml:4: sources[0] (pg).dataset_from: stanza does not apply to a walg source; use tag:KEY (a key of the backup's user_data)`,
		"invalid-velero-file-and-binary.yml":     `testdata/invalid-velero-file-and-binary.yml:4: sources[0] (k8s).velero: set file or binary, not both`,
		"invalid-velero-page-size.yml":           `testdata/invalid-velero-page-size.yml:4: sources[0] (k8s).velero.page_size: must be at least 1`,
		"invalid-awsbackup-vault-group.yml":      `testdata/invalid-awsbackup-vault-group.yml:4: sources[0] (aws).awsbackup.vaults[0].name_regex: named group "environment" is neither env nor dataset`,
		"invalid-awsbackup-vault-both.yml":       `testdata/invalid-awsbackup-vault-both.yml:4: sources[0] (aws).awsbackup.vaults[0]: set name or name_regex (one of them)`,
		"invalid-awsbackup-regex.yml":            "testdata/invalid-awsbackup-regex.yml:4: sources[0] (aws).awsbackup.vaults[0].name_regex: error parsing regexp: missing closing ): `prod-(payments`",
		"invalid-probe-on-deploy-env.yml":        `testdata/invalid-probe-on-deploy-env.yml:6: probes[0] (p).on_deploy.env: unknown environment "qa"`,
		"invalid-freeze-rollbacks.yml":           `testdata/invalid-freeze-rollbacks.yml:4: checks.freeze.rollbacks: must be at least 1`,
		"invalid-s3-placeholder.yml":             `testdata/invalid-s3-placeholder.yml:9: sources[0] (dumps).s3.key_template: key template "{env}/{when}.dump": unknown placeholder {when} (use env, dataset, release, type, time, id, _ or **)`,
		"invalid-s3-no-dataset.yml":              `testdata/invalid-s3-no-dataset.yml:9: sources[0] (dumps): set dataset, or name the dataset in s3.key_template as {dataset}`,
		"invalid-s3-prefix-overlap.yml":          `testdata/invalid-s3-prefix-overlap.yml:11: sources[0] (dumps).s3.prefixes[1]: "pg/" overlaps prefixes[0] "pg/a" (keys would be read twice)`,
		"invalid-s3-prefix-outside.yml":          `testdata/invalid-s3-prefix-outside.yml:11: sources[0] (dumps).s3.prefixes[0]: "mysql/" can hold no key the template "pg/{time}.dump" matches`,
		"invalid-s3-inventory.yml":               `testdata/invalid-s3-inventory.yml:11: sources[0] (dumps).s3.inventory.config: required with mode: inventory (or name one report's manifest.json in inventory.manifest)`,
		"invalid-s3-inventory-pinned.yml":        `testdata/invalid-s3-inventory-pinned.yml:14: sources[0] (dumps).s3.inventory.discovery_interval: with inventory.manifest no report is looked for; set one or the other`,
		"invalid-s3-endpoint-credentials.yml":    `testdata/invalid-s3-endpoint-credentials.yml:11: sources[0] (dumps).s3.endpoint: credentials do not belong in the URL; use the default credential chain`,
		"invalid-min-lock-env.yml":               `testdata/invalid-min-lock-env.yml:4: classifications.pii.min_lock: unknown environment "production"`,
		"invalid-repository-on-source.yml":       `testdata/invalid-repository-on-source.yml:6: sources[0]: unknown field "repository" ("repository" belongs under restic: nest it there, for example restic: {repository: ...})`,
		"invalid-events-no-secret.yml":           `testdata/invalid-events-no-secret.yml:4: events.gitlab: set secret_file or secret_env (a secret is never accepted inline, and a sender route without one would let anybody post events)`,
		"invalid-events-both-secrets.yml":        `testdata/invalid-events-both-secrets.yml:4: events.github: set secret_file or secret_env, not both`,
		"invalid-events-unknown-env.yml":         `testdata/invalid-events-unknown-env.yml:7: events.jenkins.envs.production: unknown environment "prd"`,
		"invalid-events-unknown-sender.yml":      `testdata/invalid-events-unknown-sender.yml:4: events: unknown field "bitbucket"`,
		"invalid-events-queue-zero.yml":          `testdata/invalid-events-queue-zero.yml:4: events.queue_size: must be at least 1`,
		"invalid-events-rollback-regexp.yml":     `testdata/invalid-events-rollback-regexp.yml:4: events.gitlab.rollback_jobs: error parsing regexp: missing closing ): ` + "`roll(back`",
		"invalid-events-no-journal.yml":          `testdata/invalid-events-no-journal.yml:4: events.journal_dir: required when history is disabled`,
	}
}

func TestLoadInvalid(t *testing.T) {
	for file, want := range invalidFiles() {
		t.Run(file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", file))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if err.Error() != want {
				t.Errorf("error:\n got: %s\nwant: %s", err, want)
			}
		})
	}
}

// Every invalid file in testdata has a case above, so a new file cannot be
// forgotten.
func TestEveryInvalidFileIsChecked(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid-*.yml")
	cases := invalidFiles()
	for _, f := range files {
		if _, ok := cases[filepath.Base(f)]; !ok {
			t.Errorf("%s has no expected error in invalidFiles", f)
		}
	}
	if len(files) != len(cases) {
		t.Errorf("%d invalid files, %d cases: a case names a file that does not exist", len(files), len(cases))
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0": 0, "90s": 90 * time.Second, "1h30m": 90 * time.Minute, "35d": 35 * 24 * time.Hour,
		"2w": 14 * 24 * time.Hour, "1y": 365 * 24 * time.Hour, "1.5h": 90 * time.Minute,
	} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1 hour", "-5m", "h", "1ns", "5us", "+5m", " 5m", "1.h", ".5h", "5", "99999999999y", "1e3s"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", in)
		}
	}
}

func TestSchemaCoversEveryField(t *testing.T) {
	s := Schema(nil)
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"rpo"`, `"restore_test_every"`, `"password_file"`, `"stanzas"`, `"relative_to"`, `"quiet_windows"`, `"kms_keys"`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("schema lacks %s", key)
		}
	}
	srcs := s["properties"].(map[string]any)["sources"].(map[string]any)["items"].(map[string]any)
	if srcs["additionalProperties"] != false {
		t.Error("schema allows unknown source keys; the loader rejects them")
	}
	if req := srcs["required"].([]string); strings.Join(req, ",") != "name,type" {
		t.Errorf("source required = %v", req)
	}
}

// The documented example configuration must stay valid.
func TestExampleConfigsAreValid(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*/restorable*.yml")
	if len(files) == 0 {
		t.Fatal("no example configurations found")
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// docs/config.md must mention every key the loader accepts.
func TestReferenceListsEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	var walk func(prefix string, s map[string]any)
	walk = func(prefix string, s map[string]any) {
		props, _ := s["properties"].(map[string]any)
		for k, v := range props {
			if !strings.Contains(string(doc), "`"+k) && !strings.Contains(string(doc), "."+k+"`") && !strings.Contains(string(doc), "`"+k+"`") {
				t.Errorf("docs/config.md does not document %s%s", prefix, k)
			}
			child := v.(map[string]any)
			if items, ok := child["items"].(map[string]any); ok {
				child = items
			}
			if ap, ok := child["additionalProperties"].(map[string]any); ok {
				child = ap
			}
			walk(prefix+k+".", child)
		}
	}
	walk("", Schema(nil))
}

// Values written explicitly are kept; only absent keys get defaults.
func TestDefaultsOnlyForAbsentKeys(t *testing.T) {
	base := "environments:\n  prod: {rpo: 1h}\nsources:\n  - {name: a, type: manifest, manifest: {dir: m}}\n"
	c, err := Parse("x.yml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.Collection.Jitter != DefaultJitter || c.Sources[0].Timeout != DefaultTimeout || c.Sources[0].Interval != DefaultInterval || c.Collection.Concurrency != DefaultConcurrency {
		t.Errorf("defaults: collection %+v, source %+v", c.Collection, c.Sources[0])
	}
	c, err = Parse("x.yml", []byte(base+"collection: {jitter: 0s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Collection.Jitter != 0 {
		t.Errorf("jitter: 0s became %s; it must turn jitter off", c.Collection.Jitter)
	}
	c, err = Parse("x.yml", []byte(base+"collection: {jitter: 3s, concurrency: 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Collection.Jitter.D() != 3*time.Second || c.Collection.Concurrency != 1 {
		t.Errorf("explicit collection settings not kept: %+v", c.Collection)
	}
}

func TestParseSchedule(t *testing.T) {
	from := time.Date(2026, 5, 1, 3, 0, 0, 0, time.UTC)
	for spec, next := range map[string]time.Time{
		"5m":                             from.Add(5 * time.Minute),
		"@every 1s":                      from.Add(time.Second),
		"@every 1h30m":                   from.Add(90 * time.Minute),
		"1.5h":                           from.Add(90 * time.Minute),
		"@hourly":                        from.Add(time.Hour),
		"*/15 * * * *":                   from.Add(15 * time.Minute),
		"0 3 * * 5":                      from.Add(7 * 24 * time.Hour), // 1 May 2026 is a Friday
		"CRON_TZ=Europe/Paris 0 5 * * *": from.Add(24 * time.Hour),     // 05:00 in Paris is 03:00 UTC in May
	} {
		s, err := ParseSchedule(spec)
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", spec, err)
			continue
		}
		if got := s.Next(from); !got.Equal(next) {
			t.Errorf("ParseSchedule(%q).Next = %s, want %s", spec, got, next)
		}
	}
	for _, spec := range []string{"", "@every", "@every 0s", "@every -1m", "@every 999ms", "@every 1.5s", "0s", "-5m", "@every 1ns", "61 * * * *", "0 0 31 4 *", "@fortnightly", "* * * * * *"} {
		if _, err := ParseSchedule(spec); err == nil {
			t.Errorf("ParseSchedule(%q) succeeded", spec)
		}
	}
}

func TestCheckFilesReportsMissingFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"pass", "pgbackrest.conf"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "manifests"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "restorable.yml")
	pgConf := filepath.Join(dir, "pgbackrest.conf")
	for _, tc := range []struct{ name, source, want string }{
		{"password_file", "{name: r, type: restic, restic: {repository: /srv/r,\n      password_file: nope}}",
			cfgFile + ":5: sources[0] (r).restic.password_file: " + filepath.Join(dir, "nope") + " does not exist"},
		{"pgbackrest config", "{name: p, type: pgbackrest, pgbackrest: {config: /nonexistent/pgbackrest.conf}}",
			cfgFile + ":4: sources[0] (p).pgbackrest.config: /nonexistent/pgbackrest.conf does not exist"},
		{"manifest dir is a file", "{name: m, type: manifest, manifest: {dir: pass}}",
			cfgFile + ":4: sources[0] (m).manifest.dir: " + filepath.Join(dir, "pass") + " is not a directory"},
		{"restic binary", "{name: r, type: restic, restic: {repository: /srv/r, password_file: pass, binary: bin/restic}}",
			cfgFile + ":4: sources[0] (r).restic.binary: " + filepath.Join(dir, "bin/restic") + " does not exist"},
		{"walg config", "{name: w, type: walg, walg: {config: walg.json}}",
			cfgFile + ":4: sources[0] (w).walg.config: " + filepath.Join(dir, "walg.json") + " does not exist"},
		{"velero kubeconfig", "{name: v, type: velero, velero: {kubeconfig: kube.yml}}",
			cfgFile + ":4: sources[0] (v).velero.kubeconfig: " + filepath.Join(dir, "kube.yml") + " does not exist"},
		{"walg binary", "{name: w, type: walg, walg: {binary: bin/wal-g}}",
			cfgFile + ":4: sources[0] (w).walg.binary: " + filepath.Join(dir, "bin/wal-g") + " does not exist"},
		{"velero file", "{name: v, type: velero, velero: {file: manifests}}",
			cfgFile + ":4: sources[0] (v).velero.file: " + filepath.Join(dir, "manifests") + " is a directory"},
		{"all there", "{name: p, type: pgbackrest, pgbackrest: {config: " + pgConf + "}}\n  - {name: m, type: manifest, manifest: {dir: manifests}}\n  - {name: r, type: restic, restic: {repository: /srv/r, password_file: pass}}\n  - {name: v, type: velero, velero: {file: pass}}\n  - {name: w, type: walg, walg: {config: pass}}", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yml := "environments:\n  prod: {rpo: 1h}\nsources:\n  - " + tc.source + "\n"
			if err := os.WriteFile(cfgFile, []byte(yml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(cfgFile)
			if err != nil {
				t.Fatal(err)
			}
			err = c.CheckFiles()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tc.want {
				t.Errorf("error:\n got: %v\nwant: %s", err, tc.want)
			}
		})
	}
}

// A trailing "---" holds nothing that could be lost: it is accepted.
func TestTrailingDocumentSeparatorIsAccepted(t *testing.T) {
	if _, err := Parse("x.yml", []byte("environments:\n  prod: {rpo: 1h}\n---\n")); err != nil {
		t.Fatal(err)
	}
}

// Aliases let a small file name millions of values: here a thousand
// environments share one that lists a quiet window two thousand times. The
// loader stops at maxNodes instead of walking them all.
func TestAliasExpansionIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("environments:\n  e0: &env\n    rpo: 1h\n    quiet_windows:\n      - &w {start: '@daily', duration: 1h}\n")
	for range 2000 {
		b.WriteString("      - *w\n")
	}
	for i := 1; i < 1000; i++ {
		fmt.Fprintf(&b, "  e%d: *env\n", i)
	}
	_, err := Parse("aliases.yml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "aliases nested too deeply") {
		t.Fatalf("error %v, want the alias limit", err)
	}
}

// inventory.discovery_interval is 1h when left out and stays 0 when the
// file says 0; with inventory.manifest, prefix, config and
// discovery_interval (even at its default) are refused, naming the key.
func TestInventoryDiscoveryAndPinnedManifest(t *testing.T) {
	load := func(inventory string) (*Config, error) {
		return Parse("inv.yml", []byte(`environments:
  prod: {rpo: 1h}
sources:
  - name: dumps
    type: s3
    env: prod
    dataset: db
    s3:
      bucket: b
      key_template: "{time}.dump"
      mode: inventory
      inventory: `+inventory+"\n"))
	}
	for in, want := range map[string]time.Duration{
		"{config: daily}":                         DefaultInventoryDiscovery.D(),
		"{config: daily, discovery_interval: 0}":  0,
		"{config: daily, discovery_interval: 6h}": 6 * time.Hour,
		"{manifest: r/m.json}":                    DefaultInventoryDiscovery.D(),
	} {
		c, err := load(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := c.Sources[0].S3.Inventory.DiscoveryInterval.D(); got != want {
			t.Errorf("%s: discovery interval %s, want %s", in, got, want)
		}
	}
	for _, key := range []string{"prefix: reports", "config: daily", "discovery_interval: 1h"} {
		name, _, _ := strings.Cut(key, ":")
		_, err := load("{manifest: r/m.json, " + key + "}")
		if want := "sources[0] (dumps).s3.inventory." + name + ": with inventory.manifest no report is looked for; set one or the other"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("manifest with %s: %v, want %q", key, err, want)
		}
	}
}

package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLoadInvalidAccess: each invalid access section in testdata/access is
// refused with the exact message. They live in a directory of their own
// because most of what they break (references to roles, uniqueness, which
// permissions anonymous may hold) is beyond what the JSON Schema checks.
func TestLoadInvalidAccess(t *testing.T) {
	cases := map[string]string{
		"invalid-anonymous-run.yml":          `testdata/access/invalid-anonymous-run.yml: access.anonymous: probe:run changes state or runs work and is never granted without credentials; grant it to a principal's role`,
		"invalid-unknown-role.yml":           `testdata/access/invalid-unknown-role.yml:5: access.principals[0] (alice).roles: unknown role "oncall" (one of auditor, on-call, pipeline, release-manager)`,
		"invalid-no-credential.yml":          `testdata/access/invalid-no-credential.yml:5: access.principals[0] (alice): set token_sha256_file, client_cert_names or basic_auth_user, or nobody can be this principal`,
		"invalid-unknown-permission.yml":     `testdata/access/invalid-unknown-permission.yml: access.roles.operator: unknown permission "probes:write" (one of metrics:read, gate:read, probes:read, reports:read, probe:run, config:reload, gate:override, events:write)`,
		"invalid-duplicate-principal.yml":    `testdata/access/invalid-duplicate-principal.yml:8: access.principals[1] (ci).name: duplicate of the principal on line 5`,
		"invalid-unknown-key.yml":            `testdata/access/invalid-unknown-key.yml:7: access.principals[0]: unknown field "token" (secrets are never accepted inline: use token_sha256_file)`,
		"invalid-audit-disabled-history.yml": `testdata/access/invalid-audit-disabled-history.yml: access.audit_log: required when history is disabled, because every use of a principal's permissions is audited`,
	}
	files, _ := filepath.Glob("testdata/access/*.yml")
	if len(files) != len(cases) {
		t.Errorf("%d files in testdata/access, %d cases: every file needs its expected error", len(files), len(cases))
	}
	for file, want := range cases {
		t.Run(file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", "access", file))
			if err == nil || err.Error() != want {
				t.Errorf("error:\n got: %v\nwant: %s", err, want)
			}
		})
	}
}

func TestAccessDefaults(t *testing.T) {
	c, err := Parse("t.yml", []byte("environments: {prod: {rpo: 1h}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Access.AnonymousPermissions(); !slices.Equal(got, DefaultAnonymous()) {
		t.Errorf("anonymous default = %v", got)
	}
	if got, err := c.Access.AuditLogPath("/var/lib/restorable/history"); err != nil || got != "/var/lib/restorable/history/audit/audit.log" {
		t.Errorf("audit log default = %q, %v", got, err)
	}
	if _, err := c.Access.AuditLogPath("s3://bucket/history"); err == nil || !strings.Contains(err.Error(), "set a local path") {
		t.Errorf("audit log under an object-storage root: %v", err)
	}
	// anonymous: [] takes every permission away from requests without
	// credentials, which is not the same as leaving it out.
	c, err = Parse("dir/t.yml", []byte("environments: {prod: {rpo: 1h}}\naccess:\n  anonymous: []\n  audit_log: audit.log\n  roles: {on-call: [probes:read]}\n  principals: [{name: a, roles: [on-call], token_sha256_file: a.sha256}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Access.AnonymousPermissions(); len(got) != 0 {
		t.Errorf("anonymous: [] gives %v", got)
	}
	if got := c.Access.RolePermissions()["on-call"]; !slices.Equal(got, []string{PermProbesRead}) {
		t.Errorf("a configured role does not replace the built-in one: %v", got)
	}
	abs, _ := filepath.Abs("dir")
	if c.Access.AuditLog != filepath.Join(abs, "audit.log") || c.Access.Principals[0].TokenSHA256File != filepath.Join(abs, "a.sha256") {
		t.Errorf("paths are not relative to the file: %q %q", c.Access.AuditLog, c.Access.Principals[0].TokenSHA256File)
	}
}

// docs/security.md lists every built-in role with exactly its permissions.
func TestSecurityDocListsBuiltinRoles(t *testing.T) {
	doc, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	for role, perms := range BuiltinRoles() {
		quoted := make([]string, len(perms))
		for i, p := range perms {
			quoted[i] = "`" + p + "`"
		}
		row := "| `" + role + "` | " + strings.Join(quoted, ", ") + " |"
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/security.md lacks the row %s", row)
		}
	}
	for _, p := range Permissions() {
		if !strings.Contains(string(doc), "| `"+p+"` |") {
			t.Errorf("docs/security.md does not list permission %s in its routes table", p)
		}
	}
}

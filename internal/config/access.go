package config

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Permissions of the exporter's HTTP API. A route that changes state or
// runs work needs one; nobody holds one that is not granted explicitly.
const (
	PermMetricsRead  = "metrics:read"
	PermGateRead     = "gate:read"
	PermProbesRead   = "probes:read"
	PermProbeRun     = "probe:run"
	PermConfigReload = "config:reload"
	// PermGateOverride is reserved for the break-glass gate override.
	PermGateOverride = "gate:override"
	// PermEventsWrite is reserved for the release-events webhooks.
	PermEventsWrite = "events:write"
	// PermReportsRead is reserved for the report routes.
	PermReportsRead = "reports:read"
)

// Permissions lists every permission, in the order docs/security.md does.
func Permissions() []string {
	return []string{PermMetricsRead, PermGateRead, PermProbesRead, PermReportsRead, PermProbeRun, PermConfigReload, PermGateOverride, PermEventsWrite}
}

// ReadPermissions are the permissions that only read; they are the only
// ones access.anonymous may grant.
func ReadPermissions() []string {
	return []string{PermMetricsRead, PermGateRead, PermProbesRead, PermReportsRead}
}

// DefaultAnonymous is what anybody may do without credentials when
// access.anonymous is not set: scrape, ask the gate and read probe status,
// as before access control existed.
func DefaultAnonymous() []string {
	return []string{PermMetricsRead, PermGateRead, PermProbesRead}
}

// BuiltinRoles are the roles every configuration has; access.roles may
// redefine them or add others.
func BuiltinRoles() map[string][]string {
	return map[string][]string{
		"on-call":         {PermProbeRun, PermConfigReload, PermProbesRead, PermGateRead, PermMetricsRead},
		"release-manager": {PermGateOverride, PermGateRead, PermProbesRead, PermMetricsRead},
		"auditor":         {PermReportsRead, PermProbesRead, PermGateRead, PermMetricsRead},
		"pipeline":        {PermEventsWrite, PermGateRead},
	}
}

// Access is who may use which route of the exporter's HTTP API, and where
// the audit log goes. docs/security.md describes the model.
type Access struct {
	// Anonymous is nil when not set (DefaultAnonymous applies) and empty
	// when set to [] (every route but health and readiness needs a
	// principal).
	Anonymous  []string            `yaml:"anonymous,omitempty" doc:"Read permissions granted without credentials (default metrics:read, gate:read, probes:read; [] requires credentials everywhere)."`
	Roles      map[string][]string `yaml:"roles,omitempty" doc:"Roles and their permissions, added to or replacing the built-in on-call, release-manager, auditor and pipeline."`
	Principals []*Principal        `yaml:"principals,omitempty" doc:"Who may authenticate, how, and with which roles."`
	AuditLog   string              `yaml:"audit_log,omitempty" doc:"Path of the audit log (default <history.root>/audit/audit.log)."`
}

// Principal is a person or system that authenticates to the exporter.
type Principal struct {
	Name  string   `yaml:"name" doc:"Unique name, written to the audit log." required:"true"`
	Roles []string `yaml:"roles" doc:"Roles of the principal." required:"true"`
	// TokenSHA256File holds the hex SHA-256 of the principal's bearer token;
	// the token itself is never stored.
	TokenSHA256File string   `yaml:"token_sha256_file,omitempty" doc:"File holding the hex SHA-256 of the principal's bearer token (the token itself is never configured)."`
	ClientCertNames []string `yaml:"client_cert_names,omitempty" doc:"Subject common names or SANs (DNS, email, URI) of verified client certificates that are this principal."`
	BasicAuthUser   string   `yaml:"basic_auth_user,omitempty" doc:"User of the --web.config.file basic_auth_users that is this principal."`

	line int
}

// Line is the line of the principal in the file.
func (p *Principal) Line() int { return p.line }

// UnmarshalYAML records the line of a principal for messages.
func (p *Principal) UnmarshalYAML(n *yaml.Node) error {
	type plain Principal
	if err := n.Decode((*plain)(p)); err != nil {
		return yamlError(err)
	}
	p.line = n.Line
	return nil
}

// AnonymousPermissions is what anybody may do without credentials.
func (a *Access) AnonymousPermissions() []string {
	if a.Anonymous == nil {
		return DefaultAnonymous()
	}
	return a.Anonymous
}

// RolePermissions returns every role with its permissions: the built-in
// roles, with access.roles added or replacing them.
func (a *Access) RolePermissions() map[string][]string {
	roles := BuiltinRoles()
	for name, perms := range a.Roles {
		roles[name] = perms
	}
	return roles
}

// AuditLogPath is where the audit log goes: access.audit_log, else
// audit/audit.log under historyRoot (the history root in use, which
// --history.root may override). It fails when neither is a local path.
func (a *Access) AuditLogPath(historyRoot string) (string, error) {
	if a.AuditLog != "" {
		return a.AuditLog, nil
	}
	if historyRoot == "" || strings.Contains(historyRoot, "://") {
		return "", fmt.Errorf("access.audit_log: history.root %q is not a local directory; set a local path for the audit log", historyRoot)
	}
	return filepath.Join(historyRoot, "audit", "audit.log"), nil
}

// validateAccess checks the access section and makes its paths absolute
// against the configuration file, as resolvePaths does for the rest.
func (c *Config) validateAccess() error {
	a := &c.Access
	a.AuditLog = c.Path(a.AuditLog)
	read := ReadPermissions()
	for _, p := range a.Anonymous {
		if !slices.Contains(Permissions(), p) {
			return fmt.Errorf("access.anonymous: unknown permission %q (one of %s)", p, strings.Join(Permissions(), ", "))
		}
		if !slices.Contains(read, p) {
			return fmt.Errorf("access.anonymous: %s changes state or runs work and is never granted without credentials; grant it to a principal's role", p)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(a.Roles)) {
		if name == "" {
			return errors.New("access.roles: a role needs a name")
		}
		for _, p := range a.Roles[name] {
			if !slices.Contains(Permissions(), p) {
				return fmt.Errorf("access.roles.%s: unknown permission %q (one of %s)", name, p, strings.Join(Permissions(), ", "))
			}
		}
	}
	roles := a.RolePermissions()
	names := map[string]int{}
	users := map[string]string{}
	certs := map[string]string{}
	for i, p := range a.Principals {
		where, err := namedEntry("access.principals", "principal", i, p.Name, p.line, names)
		if err != nil {
			return err
		}
		if len(p.Roles) == 0 {
			return errAt(p.line, "%s.roles: at least one role is required", where)
		}
		for _, r := range p.Roles {
			if _, ok := roles[r]; !ok {
				return errAt(p.line, "%s.roles: unknown role %q (one of %s)", where, r, strings.Join(slices.Sorted(maps.Keys(roles)), ", "))
			}
		}
		if p.TokenSHA256File == "" && len(p.ClientCertNames) == 0 && p.BasicAuthUser == "" {
			return errAt(p.line, "%s: set token_sha256_file, client_cert_names or basic_auth_user, or nobody can be this principal", where)
		}
		if p.BasicAuthUser != "" {
			if other, dup := users[p.BasicAuthUser]; dup {
				return errAt(p.line, "%s.basic_auth_user: %q is already principal %s", where, p.BasicAuthUser, other)
			}
			users[p.BasicAuthUser] = p.Name
		}
		for _, n := range p.ClientCertNames {
			if other, dup := certs[n]; dup {
				return errAt(p.line, "%s.client_cert_names: %q is already principal %s", where, n, other)
			}
			certs[n] = p.Name
		}
		p.TokenSHA256File = c.Path(p.TokenSHA256File)
	}
	if len(a.Principals) > 0 && a.AuditLog == "" && c.History.Disabled {
		return errors.New("access.audit_log: required when history is disabled, because every use of a principal's permissions is audited")
	}
	return nil
}

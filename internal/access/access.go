// Package access decides who a request comes from and what they may do:
// principals recognised by a bearer token (whose SHA-256 the configuration
// names), a client certificate that TLS verified, or a basic-auth user
// that exporter-toolkit verified; roles that grant permissions; and the
// read permissions granted to everyone. Nothing else grants a permission,
// so a route that needs one is closed until the configuration opens it.
package access

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/restorable/restorable/internal/config"
)

// How a principal was recognised.
const (
	MethodToken      = "token"
	MethodClientCert = "client-cert"
	MethodBasicAuth  = "basic-auth"
	MethodNone       = "none"
)

// Anonymous is the name of a request that no principal made.
const Anonymous = "anonymous"

// errBadToken is a bearer token that is no principal's: the request is
// refused rather than served as anonymous, so that a mistyped token shows.
var errBadToken = errors.New("the bearer token is not one of a configured principal")

// IsBadToken reports whether err is a refused bearer token.
func IsBadToken(err error) bool { return errors.Is(err, errBadToken) }

// Principal is who made a request.
type Principal struct {
	// Name is the configured principal's name, or Anonymous.
	Name string
	// Method says how the principal was recognised (MethodNone for
	// anonymous requests).
	Method string
	// Unmapped names a credential that was verified but is no principal
	// ("client certificate CN=x"), for the audit log.
	Unmapped string
	roles    []string
	perms    map[string]bool
}

// Roles are the principal's roles.
func (p Principal) Roles() []string { return p.roles }

type principal struct {
	name     string
	roles    []string
	perms    map[string]bool
	token    []byte // SHA-256 of the bearer token, nil without one
	certs    []string
	userName string
}

// Policy is an access configuration ready to answer requests. It does not
// change; a reload builds a new one.
type Policy struct {
	anonymous  map[string]bool
	principals []*principal
	byCert     map[string]*principal
	byUser     map[string]*principal
	// webConfig is --web.config.file: a basic-auth user is trusted only when
	// that file lists it, because exporter-toolkit then verified its
	// password before the request reached the exporter.
	webConfig string
}

// New builds the policy of a configuration, reading each principal's token
// hash file. webConfigFile is --web.config.file (may be empty).
func New(a config.Access, webConfigFile string) (*Policy, error) {
	p := &Policy{anonymous: map[string]bool{}, byCert: map[string]*principal{}, byUser: map[string]*principal{}, webConfig: webConfigFile}
	for _, perm := range a.AnonymousPermissions() {
		p.anonymous[perm] = true
	}
	roles := a.RolePermissions()
	for _, cp := range a.Principals {
		pr := &principal{name: cp.Name, roles: cp.Roles, perms: map[string]bool{}, certs: cp.ClientCertNames, userName: cp.BasicAuthUser}
		for _, r := range cp.Roles {
			for _, perm := range roles[r] {
				pr.perms[perm] = true
			}
		}
		if cp.TokenSHA256File != "" {
			sum, err := readTokenHash(cp.TokenSHA256File)
			if err != nil {
				return nil, fmt.Errorf("access.principals (%s): %w", cp.Name, err)
			}
			for _, other := range p.principals {
				if other.token != nil && subtle.ConstantTimeCompare(other.token, sum) == 1 {
					return nil, fmt.Errorf("access.principals (%s): the token of %s has the same hash; every principal needs a token of its own", cp.Name, other.name)
				}
			}
			pr.token = sum
		}
		for _, n := range cp.ClientCertNames {
			p.byCert[n] = pr
		}
		if cp.BasicAuthUser != "" {
			p.byUser[cp.BasicAuthUser] = pr
		}
		p.principals = append(p.principals, pr)
	}
	return p, nil
}

// readTokenHash reads a token hash file: 64 hex digits, optionally followed
// by what sha256sum prints after them.
func readTokenHash(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read token hash: %w", err)
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return nil, fmt.Errorf("token hash file %s is empty", path)
	}
	sum, err := hex.DecodeString(strings.TrimPrefix(fields[0], "sha256:"))
	if err != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("token hash file %s does not start with a hex SHA-256 (64 hex digits, as sha256sum prints)", path)
	}
	return sum, nil
}

// HasPrincipals reports whether anybody can authenticate at all.
func (p *Policy) HasPrincipals() bool { return len(p.principals) > 0 }

// Identify returns who made r. A bearer token that matches no principal is
// an error (IsBadToken); other credentials that map to no principal make
// an anonymous request with Unmapped set.
func (p *Policy) Identify(r *http.Request) (Principal, error) {
	if token, ok := bearer(r); ok {
		sum := sha256.Sum256([]byte(token))
		var found *principal
		// Compare with every hash, so that the time taken does not say
		// which principal came close.
		for _, pr := range p.principals {
			if pr.token != nil && subtle.ConstantTimeCompare(pr.token, sum[:]) == 1 {
				found = pr
			}
		}
		if found == nil {
			return p.anonymousPrincipal("bearer token"), errBadToken
		}
		return found.as(MethodToken), nil
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		// Only a verified chain counts: PeerCertificates alone is whatever
		// the client sent.
		leaf := r.TLS.VerifiedChains[0][0]
		names := append([]string{leaf.Subject.CommonName}, leaf.DNSNames...)
		names = append(names, leaf.EmailAddresses...)
		for _, u := range leaf.URIs {
			names = append(names, u.String())
		}
		for _, n := range names {
			if pr, ok := p.byCert[n]; ok && n != "" {
				return pr.as(MethodClientCert), nil
			}
		}
		return p.anonymousPrincipal("client certificate CN=" + leaf.Subject.CommonName), nil
	}
	if user, _, ok := r.BasicAuth(); ok {
		pr, mapped := p.byUser[user]
		if mapped && p.webConfigHasUser(user) {
			return pr.as(MethodBasicAuth), nil
		}
		return p.anonymousPrincipal("basic-auth user " + user + ", not a principal"), nil
	}
	return p.anonymousPrincipal(""), nil
}

// Allowed reports whether who may use perm: everyone may use the anonymous
// permissions, a principal also those of its roles.
func (p *Policy) Allowed(who Principal, perm string) bool {
	return p.anonymous[perm] || who.perms[perm]
}

// AnonymousAllowed reports whether perm needs no credentials.
func (p *Policy) AnonymousAllowed(perm string) bool { return p.anonymous[perm] }

func (p *Policy) anonymousPrincipal(unmapped string) Principal {
	return Principal{Name: Anonymous, Method: MethodNone, Unmapped: unmapped}
}

func (pr *principal) as(method string) Principal {
	return Principal{Name: pr.name, Method: method, roles: slices.Clone(pr.roles), perms: pr.perms}
}

// bearer returns the token of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// HasBearer reports whether r carries an Authorization: Bearer header,
// which a browser never adds on its own.
func HasBearer(r *http.Request) bool {
	_, ok := bearer(r)
	return ok
}

// webConfigHasUser reports whether the web configuration file lists user
// under basic_auth_users. exporter-toolkit reads that file on every
// request, so this does too rather than trusting a copy that may be stale.
func (p *Policy) webConfigHasUser(user string) bool {
	if p.webConfig == "" {
		return false
	}
	data, err := os.ReadFile(p.webConfig)
	if err != nil {
		return false
	}
	var wc struct {
		Users map[string]string `yaml:"basic_auth_users"`
	}
	if err := yaml.Unmarshal(data, &wc); err != nil {
		return false
	}
	_, ok := wc.Users[user]
	return ok
}

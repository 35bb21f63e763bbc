package access

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/restorable/restorable/internal/config"
)

func hashFile(t *testing.T, dir, name, token string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(token))
	path := filepath.Join(dir, name)
	// The format sha256sum prints: hash, two spaces, file name.
	if err := os.WriteFile(path, []byte(hex.EncodeToString(sum[:])+"  -\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func policy(t *testing.T) (*Policy, string) {
	t.Helper()
	dir := t.TempDir()
	web := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(web, []byte("basic_auth_users:\n  carol: $2y$10$abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := New(config.Access{Principals: []*config.Principal{
		{Name: "alice", Roles: []string{"on-call"}, TokenSHA256File: hashFile(t, dir, "alice", "alice-token")},
		{Name: "ci", Roles: []string{"pipeline"}, ClientCertNames: []string{"ci.example.com"}},
		{Name: "carol", Roles: []string{"auditor"}, BasicAuthUser: "carol"},
		{Name: "dave", Roles: []string{"on-call"}, BasicAuthUser: "dave"},
	}}, web)
	if err != nil {
		t.Fatal(err)
	}
	return p, dir
}

func TestIdentify(t *testing.T) {
	p, _ := policy(t)
	cert := func(cn string, dns ...string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, DNSNames: dns}
	}
	cases := []struct {
		name    string
		prepare func() (header, value string, state *tls.ConnectionState, user string)
		want    string
		method  string
		bad     bool
	}{
		{"token", func() (string, string, *tls.ConnectionState, string) {
			return "Authorization", "Bearer alice-token", nil, ""
		}, "alice", MethodToken, false},
		{"wrong token", func() (string, string, *tls.ConnectionState, string) {
			return "Authorization", "Bearer alice-tokeN", nil, ""
		}, Anonymous, MethodNone, true},
		{"verified certificate by SAN", func() (string, string, *tls.ConnectionState, string) {
			c := cert("runner-7", "ci.example.com")
			return "", "", &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}, VerifiedChains: [][]*x509.Certificate{{c}}}, ""
		}, "ci", MethodClientCert, false},
		{"unverified certificate", func() (string, string, *tls.ConnectionState, string) {
			return "", "", &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert("ci.example.com")}}, ""
		}, Anonymous, MethodNone, false},
		{"basic-auth user the web config verifies", func() (string, string, *tls.ConnectionState, string) {
			return "", "", nil, "carol"
		}, "carol", MethodBasicAuth, false},
		// dave is a principal but the web config does not list him, so
		// exporter-toolkit never checked his password.
		{"basic-auth user nobody verified", func() (string, string, *tls.ConnectionState, string) {
			return "", "", nil, "dave"
		}, Anonymous, MethodNone, false},
		{"a token wins over a certificate", func() (string, string, *tls.ConnectionState, string) {
			c := cert("ci.example.com")
			return "Authorization", "Bearer alice-token", &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}, VerifiedChains: [][]*x509.Certificate{{c}}}, ""
		}, "alice", MethodToken, false},
		{"a certificate wins over basic auth", func() (string, string, *tls.ConnectionState, string) {
			c := cert("ci.example.com")
			return "", "", &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}, VerifiedChains: [][]*x509.Certificate{{c}}}, "carol"
		}, "ci", MethodClientCert, false},
		{"nothing", func() (string, string, *tls.ConnectionState, string) {
			return "", "", nil, ""
		}, Anonymous, MethodNone, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/-/reload", nil)
			h, v, st, user := c.prepare()
			if h != "" {
				r.Header.Set(h, v)
			}
			r.TLS = st
			if user != "" {
				r.SetBasicAuth(user, "whatever")
			}
			who, err := p.Identify(r)
			if IsBadToken(err) != c.bad || who.Name != c.want || who.Method != c.method {
				t.Errorf("Identify = %+v, %v; want %s by %s (bad token %v)", who, err, c.want, c.method, c.bad)
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	p, _ := policy(t)
	r := httptest.NewRequest("POST", "/api/v1/probes/x/run", nil)
	r.Header.Set("Authorization", "Bearer alice-token")
	alice, _ := p.Identify(r)
	anon, _ := p.Identify(httptest.NewRequest("GET", "/", nil))
	for _, c := range []struct {
		who  Principal
		perm string
		want bool
	}{
		{alice, config.PermProbeRun, true},
		{alice, config.PermConfigReload, true},
		{alice, config.PermGateOverride, false},
		{anon, config.PermMetricsRead, true},
		{anon, config.PermProbeRun, false},
		{anon, config.PermConfigReload, false},
		{anon, config.PermReportsRead, false},
	} {
		if got := p.Allowed(c.who, c.perm); got != c.want {
			t.Errorf("Allowed(%s, %s) = %v", c.who.Name, c.perm, got)
		}
	}
}

func TestNewRejectsBadTokenFiles(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("the-token-itself\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(config.Access{Principals: []*config.Principal{{Name: "a", Roles: []string{"on-call"}, TokenSHA256File: bad}}}, ""); err == nil {
		t.Error("a token file holding the token itself was accepted")
	}
	same := hashFile(t, dir, "same", "t")
	if _, err := New(config.Access{Principals: []*config.Principal{
		{Name: "a", Roles: []string{"on-call"}, TokenSHA256File: same},
		{Name: "b", Roles: []string{"auditor"}, TokenSHA256File: same},
	}}, ""); err == nil {
		t.Error("two principals with one token were accepted")
	}
}

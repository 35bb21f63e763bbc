package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/restorable/restorable/internal/access"
	"github.com/restorable/restorable/internal/audit"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/testutil"
)

// e2eToken is the bearer token of the e2e principal (role on-call) of
// testdata/e2e/restorable.yml.
const e2eToken = "e2e-on-call-token-7f3a9c"

// writeE2ETokenHash writes the hash file the fixture configuration names.
func writeE2ETokenHash(t *testing.T, dir string) {
	t.Helper()
	writeTokenHash(t, filepath.Join(dir, "e2e-token.sha256"), e2eToken)
}

func writeTokenHash(t *testing.T, path, token string) {
	t.Helper()
	sum := sha256.Sum256([]byte(token))
	if err := os.WriteFile(path, []byte(hex.EncodeToString(sum[:])+"  -\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// post sends a POST as the e2e principal, the way docs/security.md tells a
// curl user to.
func (e *exporter) post(path string) (*http.Response, error) {
	req, err := http.NewRequest("POST", "http://"+e.addr+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+e2eToken)
	return http.DefaultClient.Do(req)
}

// pki is a throwaway CA with a server certificate for 127.0.0.1 and client
// certificates.
type pki struct {
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	serial int64
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "restorable test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &pki{dir: t.TempDir(), ca: ca, caKey: key, serial: 1}
	writePEM(t, filepath.Join(p.dir, "ca.pem"), "CERTIFICATE", der)
	return p
}

// issue writes name.pem and name-key.pem and returns the key pair.
func (p *pki) issue(t *testing.T, name, cn string, server bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(p.dir, name+".pem"), "CERTIFICATE", der)
	writePEM(t, filepath.Join(p.dir, name+"-key.pem"), "EC PRIVATE KEY", kder)
	cert, err := tls.LoadX509KeyPair(filepath.Join(p.dir, name+".pem"), filepath.Join(p.dir, name+"-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// securedConfig is the fixture configuration with the access section
// replaced by extra.
func securedConfig(t *testing.T, dir, access string) string {
	t.Helper()
	abs, _ := filepath.Abs("testdata/e2e/manifests")
	cfg, data := fixtureConfig(t, dir, abs)
	i := strings.Index(string(data), "# The end-to-end tests run probes")
	if i < 0 {
		t.Fatal("fixture configuration has no access section to replace")
	}
	if err := os.WriteFile(cfg, []byte(string(data[:i])+access), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// waitReady waits until /-/ready answers 200 to client at base.
func waitReady(t *testing.T, e *exporter, client *http.Client, base string, prepare func(*http.Request)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest("GET", base+"/-/ready", nil)
		if prepare != nil {
			prepare(req)
		}
		resp, err := client.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("exporter not ready within a minute; logs:\n%s", e.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type matrixCase struct {
	name    string
	client  *http.Client
	method  string
	path    string
	headers map[string]string
	user    [2]string
	code    int
	body    string
}

func runMatrix(t *testing.T, base string, cases []matrixCase) {
	t.Helper()
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(""))
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		if c.user[0] != "" {
			req.SetBasicAuth(c.user[0], c.user[1])
		}
		resp, err := c.client.Do(req)
		if err != nil {
			t.Errorf("%s: %s %s: %v", c.name, c.method, c.path, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(string(body), c.body) {
			t.Errorf("%s: %s %s: %s %s; want %d with %q", c.name, c.method, c.path, resp.Status, body, c.code, c.body)
		}
	}
}

// TestAccessOverTLSWithClientCertificatesAndTokens: over TLS, a verified
// client certificate and a bearer token are principals; an unmapped
// certificate, a wrong token and no credentials are not; reads stay open;
// a cross-site form post is refused even with a valid certificate; and
// the audit log names who did what and verifies.
func TestAccessOverTLSWithClientCertificatesAndTokens(t *testing.T) {
	bin := buildExporter(t)
	dir := t.TempDir()
	p := newPKI(t)
	p.issue(t, "server", "127.0.0.1", true)
	ciCert := p.issue(t, "ci", "ci.example.com", false)
	auditorCert := p.issue(t, "auditor", "auditor.example.com", false)
	strangerCert := p.issue(t, "stranger", "stranger.example.com", false)
	writeTokenHash(t, filepath.Join(dir, "alice.sha256"), "alice-token-1b2c")
	cfg := securedConfig(t, dir, `
access:
  principals:
    - name: ci
      roles: [on-call]
      client_cert_names: [ci.example.com]
    - name: auditor
      roles: [auditor]
      client_cert_names: [auditor.example.com]
    - name: alice
      roles: [on-call]
      token_sha256_file: alice.sha256
`)
	web := filepath.Join(dir, "web.yml")
	webYAML := fmt.Sprintf("tls_server_config:\n  cert_file: %s/server.pem\n  key_file: %s/server-key.pem\n  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: %s/ca.pem\n", p.dir, p.dir, p.dir)
	if err := os.WriteFile(web, []byte(webYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	history := filepath.Join(dir, "history")
	e := launchExporter(t, bin, cfg, history, "--web.config.file="+web)
	roots := x509.NewCertPool()
	roots.AddCert(p.ca)
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}}
	}
	base := "https://" + e.addr
	waitReady(t, e, client(), base, nil)
	run := "/api/v1/probes/bundle-verify/run"
	json := map[string]string{"Content-Type": "application/json"}
	runMatrix(t, base, []matrixCase{
		{"anonymous scrape", client(), "GET", "/metrics", nil, [2]string{}, 200, "restorable_"},
		{"anonymous probe list", client(), "GET", "/api/v1/probes", nil, [2]string{}, 200, "bundle-verify"},
		{"anonymous run", client(), "POST", run, json, [2]string{}, 401, "needs the permission probe:run"},
		{"anonymous reload", client(), "POST", "/-/reload", json, [2]string{}, 401, "needs the permission config:reload"},
		{"unmapped certificate", client(strangerCert), "POST", run, json, [2]string{}, 401, "needs the permission probe:run"},
		{"auditor certificate", client(auditorCert), "POST", run, json, [2]string{}, 403, "principal auditor (roles auditor) lacks the permission probe:run"},
		{"wrong token", client(), "POST", run, map[string]string{"Authorization": "Bearer alice-token-1b2d"}, [2]string{}, 401, "not one of a configured principal"},
		{"cross-site form post with a valid certificate", client(ciCert), "POST", run, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"}, [2]string{}, 403, "cross-site request refused"},
		{"on-call certificate runs a probe", client(ciCert), "POST", run, json, [2]string{}, 202, "run_id"},
		{"on-call token reloads", client(), "POST", "/-/reload", map[string]string{"Authorization": "Bearer alice-token-1b2c"}, [2]string{}, 200, "Configuration reloaded."},
	})
	res, err := audit.Verify(filepath.Join(history, "audit", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) > 0 {
		t.Errorf("audit log does not verify: %v", res.Problems)
	}
	data, _ := os.ReadFile(filepath.Join(history, "audit", "audit.log"))
	log := string(data)
	for _, want := range []string{
		`"principal":"ci","auth":"client-cert","remote":"127.0.0.1","action":"probe.run","target":"bundle-verify","outcome":"ok","status":202`,
		`"principal":"alice","auth":"token","remote":"127.0.0.1","action":"config.reload","target":"/-/reload","outcome":"ok","status":200`,
		`"principal":"auditor","auth":"client-cert","remote":"127.0.0.1","action":"probe.run","target":"bundle-verify","outcome":"denied","status":403`,
		`"principal":"anonymous","auth":"none","remote":"127.0.0.1","action":"probe.run","target":"bundle-verify","outcome":"denied","status":401,"detail":"client certificate CN=stranger.example.com; unauthorized`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %s:\n%s", want, log)
		}
	}
	if strings.Contains(log, "alice-token") {
		t.Error("a bearer token reached the audit log")
	}
	if strings.Contains(e.logs.String(), "alice-token") {
		t.Error("a bearer token reached the process log")
	}
}

// TestAccessWithBasicAuth: basic-auth users that --web.config.file verifies
// can be principals; a verified user that is no principal gets no
// permission; and basic auth alone, which a browser replays on its own, is
// not enough to pass the cross-site check.
func TestAccessWithBasicAuth(t *testing.T) {
	bin := buildExporter(t)
	dir := t.TempDir()
	cfg := securedConfig(t, dir, `
access:
  principals:
    - name: bob
      roles: [on-call]
      basic_auth_user: bob
    - name: e2e
      roles: [on-call]
      token_sha256_file: e2e-token.sha256
`)
	hash, err := bcrypt.GenerateFromPassword([]byte("bob-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	web := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(web, []byte("basic_auth_users:\n  bob: "+string(hash)+"\n  prometheus: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startExporterAuth(t, bin, cfg, filepath.Join(dir, "history"), "bob", "bob-pw", "--web.config.file="+web)
	c := &http.Client{Timeout: 10 * time.Second}
	run := "/api/v1/probes/bundle-verify/run"
	xrb := map[string]string{"X-Requested-By": "curl"}
	runMatrix(t, "http://"+e.addr, []matrixCase{
		{"no credentials (toolkit refuses)", c, "POST", run, xrb, [2]string{}, 401, ""},
		{"a principal's bearer token instead of basic auth (toolkit refuses)", c, "POST", run, map[string]string{"Authorization": "Bearer " + e2eToken}, [2]string{}, 401, "Unauthorized"},
		{"verified user that is no principal", c, "POST", run, xrb, [2]string{"prometheus", "bob-pw"}, 401, "needs the permission probe:run"},
		{"verified user scrapes", c, "GET", "/metrics", nil, [2]string{"prometheus", "bob-pw"}, 200, "restorable_"},
		{"basic auth alone is a simple request", c, "POST", run, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, [2]string{"bob", "bob-pw"}, 403, "cross-site request refused"},
		{"on-call user with X-Requested-By", c, "POST", run, xrb, [2]string{"bob", "bob-pw"}, 202, "run_id"},
	})
	data, err := os.ReadFile(filepath.Join(dir, "history", "audit", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"principal":"bob","auth":"basic-auth","remote":"127.0.0.1","action":"probe.run","target":"bundle-verify","outcome":"ok","status":202`) {
		t.Errorf("audit log lacks bob's run:\n%s", data)
	}
	if strings.Contains(string(data), "bob-pw") || strings.Contains(e.logs.String(), "bob-pw") {
		t.Error("a basic-auth password reached a log")
	}
}

// TestMutatingRoutesClosedWithoutAccessConfig: with no access section a
// POST is refused with how to open it, and nothing runs.
func TestMutatingRoutesClosedWithoutAccessConfig(t *testing.T) {
	bin := buildExporter(t)
	dir := t.TempDir()
	cfg := securedConfig(t, dir, "")
	e := startExporter(t, bin, cfg, filepath.Join(dir, "history"))
	c := &http.Client{Timeout: 10 * time.Second}
	runMatrix(t, "http://"+e.addr, []matrixCase{
		{"run", c, "POST", "/api/v1/probes/bundle-verify/run", map[string]string{"X-Requested-By": "curl"}, [2]string{}, 403, "no principal is configured. Grant it in the access: section"},
		{"reload", c, "POST", "/-/reload", map[string]string{"X-Requested-By": "curl"}, [2]string{}, 403, "no principal is configured"},
		{"form post from a web page", c, "POST", "/-/reload", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"}, [2]string{}, 403, "cross-site request refused"},
		{"scrape", c, "GET", "/metrics", nil, [2]string{}, 200, "restorable_"},
	})
	if strings.Contains(e.get("/api/v1/probes"), `"run_id"`) {
		t.Error("a refused run was queued")
	}
}

// TestIdleConnectionsDoNotBlockScrapes: 1,100 connections that send
// nothing neither keep a scrape out nor hold more than
// --web.max-connections file descriptors of the exporter.
func TestIdleConnectionsDoNotBlockScrapes(t *testing.T) {
	bin := buildExporter(t)
	dir := t.TempDir()
	abs, _ := filepath.Abs("testdata/e2e/manifests")
	cfg, _ := fixtureConfig(t, dir, abs)
	const max = 100
	e := startExporter(t, bin, cfg, filepath.Join(dir, "history"), fmt.Sprintf("--web.max-connections=%d", max))
	var idle []net.Conn
	t.Cleanup(func() {
		for _, c := range idle {
			_ = c.Close()
		}
	})
	for range 1100 {
		c, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
		if err != nil {
			t.Fatalf("open idle connection %d: %v", len(idle)+1, err)
		}
		idle = append(idle, c)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + e.addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape behind 1,100 idle connections: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape behind 1,100 idle connections: %s", resp.Status)
	}
	// The oldest idle connections were closed by the exporter.
	_ = idle[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle[0].Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Errorf("the oldest idle connection is still open: %v", err)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", e.cmd.Process.Pid))
	if err != nil {
		testutil.Unavailable(t, "cannot count the exporter's file descriptors (needs /proc): "+err.Error())
	}
	// Connections, plus the files and sockets the exporter holds anyway.
	if len(fds) > max+50 {
		t.Errorf("the exporter holds %d file descriptors with --web.max-connections=%d", len(fds), max)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// TestSlowClientsAreCutOff: a client that sends its headers or its body
// too slowly loses the connection after the read timeouts, instead of
// holding it.
func TestSlowClientsAreCutOff(t *testing.T) {
	bin := buildExporter(t)
	dir := t.TempDir()
	abs, _ := filepath.Abs("testdata/e2e/manifests")
	cfg, _ := fixtureConfig(t, dir, abs)
	e := startExporter(t, bin, cfg, filepath.Join(dir, "history"), "--web.read-timeout=1s", "--web.read-header-timeout=1s")
	for name, req := range map[string]string{
		"slow headers": "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ",
		"slow body":    "POST /-/reload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + e2eToken + "\r\nContent-Length: 100\r\n\r\nabc",
	} {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", e.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close() //nolint:errcheck // test connection
			if _, err := io.WriteString(c, req); err != nil {
				t.Fatal(err)
			}
			// Far longer than the timeouts: reaching this deadline means the
			// exporter kept the connection.
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, err = io.Copy(io.Discard, bufio.NewReader(c))
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the exporter still holds a connection whose client stalled 20 s")
			}
		})
	}
}

// TestLargeBodyRefused: a body over --web.max-request-body-bytes is refused
// before any handler reads it.
func TestLargeBodyRefused(t *testing.T) {
	bin := buildExporter(t)
	dir := t.TempDir()
	abs, _ := filepath.Abs("testdata/e2e/manifests")
	cfg, _ := fixtureConfig(t, dir, abs)
	e := startExporter(t, bin, cfg, filepath.Join(dir, "history"), "--web.max-request-body-bytes=1024")
	req, _ := http.NewRequest("POST", "http://"+e.addr+"/-/reload", strings.NewReader(strings.Repeat("x", 4096)))
	req.Header.Set("Authorization", "Bearer "+e2eToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("4 KiB body with a 1 KiB limit: %s %s", resp.Status, body)
	}
}

// TestReloadRereadsTokensAndIsAudited: a reload reads the token hash files
// again (a rotated token replaces the old one at once), and a reload by
// SIGHUP is audited like one over HTTP.
func TestReloadRereadsTokensAndIsAudited(t *testing.T) {
	bin := buildExporter(t)
	dir := t.TempDir()
	abs, _ := filepath.Abs("testdata/e2e/manifests")
	cfg, _ := fixtureConfig(t, dir, abs)
	history := filepath.Join(dir, "history")

	// --config.check reads the token hash files too.
	hashFile := filepath.Join(dir, "e2e-token.sha256")
	if err := os.Rename(hashFile, hashFile+".away"); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--config.file="+cfg, "--config.check").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "e2e-token.sha256") {
		t.Errorf("--config.check with a missing token hash file: %v %s", err, out)
	}
	if err := os.Rename(hashFile+".away", hashFile); err != nil {
		t.Fatal(err)
	}

	e := startExporter(t, bin, cfg, history)
	reload := func(token string) int {
		req, _ := http.NewRequest("POST", "http://"+e.addr+"/-/reload", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	writeTokenHash(t, filepath.Join(dir, "e2e-token.sha256"), "rotated-token-55d1")
	if code := reload(e2eToken); code != http.StatusOK {
		t.Fatalf("reload with the token in use before the rotation: %d", code)
	}
	if code := reload(e2eToken); code != http.StatusUnauthorized {
		t.Errorf("the old token after a reload: %d, want 401", code)
	}
	if code := reload("rotated-token-55d1"); code != http.StatusOK {
		t.Errorf("the rotated token after a reload: %d, want 200", code)
	}
	if err := e.cmd.Process.Signal(sighup); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(history, "audit", "audit.log")
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), `"principal":"signal","auth":"signal","action":"config.reload.signal","target":"SIGHUP","outcome":"ok"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit entry of the SIGHUP reload:\n%s", data)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if res, err := audit.Verify(path); err != nil || len(res.Problems) > 0 {
		t.Errorf("audit log: %v %v", err, res.Problems)
	}
}

// TestDemoTokenRunsProbes: the README's quick start posts a probe run with
// examples/demo/demo-token; the demo configuration must make that token a
// principal allowed to run probes and reload.
func TestDemoTokenRunsProbes(t *testing.T) {
	cfg, err := config.Load("../../examples/demo/restorable.yml")
	if err != nil {
		t.Fatal(err)
	}
	pol, err := access.New(cfg.Access, "")
	if err != nil {
		t.Fatal(err)
	}
	token, err := os.ReadFile("../../examples/demo/demo-token")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "http://localhost:10060/api/v1/probes/app-bundle-verify/run", nil)
	// As $(cat examples/demo/demo-token) passes it: without the newline.
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	who, err := pol.Identify(req)
	if err != nil {
		t.Fatal(err)
	}
	if !pol.Allowed(who, config.PermProbeRun) || !pol.Allowed(who, config.PermConfigReload) {
		t.Errorf("the demo token is %s, not allowed to run probes and reload", who.Name)
	}
}

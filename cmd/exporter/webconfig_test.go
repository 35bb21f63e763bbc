package main

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestWebConfigBasicAuth: --web.config.file protects every route with
// basic auth, as exporter-toolkit does for every Prometheus exporter.
func TestWebConfigBasicAuth(t *testing.T) {
	bin := buildExporter(t)
	dir := t.TempDir()
	abs, _ := filepath.Abs("testdata/e2e/manifests")
	cfg, _ := fixtureConfig(t, dir, abs)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	web := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(web, []byte("basic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startExporterAuth(t, bin, cfg, filepath.Join(dir, "history"), "prometheus", "s3cret", "--web.config.file="+web)
	for _, path := range []string{"/metrics", "/api/v1/gate?env=prod", "/-/ready"} {
		resp, err := http.Get("http://" + e.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials: %s, want 401", path, resp.Status)
		}
	}
	req, _ := http.NewRequest("GET", "http://"+e.addr+"/metrics", nil)
	req.SetBasicAuth("prometheus", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /metrics with credentials: %s", resp.Status)
	}
}

// startExporterAuth is startExporter for an exporter behind basic auth.
func startExporterAuth(t *testing.T, bin, config, history, user, pass string, extra ...string) *exporter {
	t.Helper()
	e := launchExporter(t, bin, config, history, extra...)
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest("GET", "http://"+e.addr+"/-/ready", nil)
		req.SetBasicAuth(user, pass)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("exporter not ready within a minute; logs:\n%s", e.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

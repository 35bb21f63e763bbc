package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"

	"github.com/restorable/restorable/internal/lockwatch"
	"github.com/restorable/restorable/internal/testutil"
)

const argoDir = "../../examples/argocd"

// yamlDocs decodes every document of a YAML file.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // read-only
	dec := yaml.NewDecoder(f)
	var out []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if doc != nil {
			out = append(out, doc)
		}
	}
}

// at walks a decoded YAML tree by map keys and list indexes.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not a map at %q", path, k)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("%v: no item %d", path, k)
			}
			v = l[k]
		}
	}
	return v
}

// hookJob is the Job of presync-backup-job.yaml and its container.
func hookJob(t *testing.T) (job, container map[string]any) {
	t.Helper()
	docs := yamlDocs(t, filepath.Join(argoDir, "presync-backup-job.yaml"))
	if len(docs) != 1 || docs[0]["kind"] != "Job" || docs[0]["apiVersion"] != "batch/v1" {
		t.Fatalf("presync-backup-job.yaml holds %d documents, want one batch/v1 Job", len(docs))
	}
	return docs[0], at(t, docs[0], "spec", "template", "spec", "containers", 0).(map[string]any)
}

// hookScript is the shell script the Job's container runs.
func hookScript(t *testing.T, container map[string]any) string {
	t.Helper()
	cmd, _ := container["command"].([]any)
	args, _ := container["args"].([]any)
	if len(cmd) != 2 || cmd[0] != "/bin/sh" || cmd[1] != "-c" || len(args) != 1 {
		t.Fatalf("the container runs %v %v, want /bin/sh -c SCRIPT", cmd, args)
	}
	return args[0].(string)
}

// TestArgoCDHookManifests checks the example's promises that a reader
// relies on: a PreSync hook recreated at each sync, bounded in time, not
// retried by Kubernetes, whose script is valid sh; and an Application whose
// hook source stamps exactly the annotations the Job reads, which
// Kustomize carries onto the Job's pod template.
func TestArgoCDHookManifests(t *testing.T) {
	job, container := hookJob(t)
	ann := at(t, job, "metadata", "annotations").(map[string]any)
	if ann["argocd.argoproj.io/hook"] != "PreSync" || ann["argocd.argoproj.io/hook-delete-policy"] != "BeforeHookCreation" {
		t.Errorf("hook annotations %v, want PreSync with BeforeHookCreation", ann)
	}
	if d, _ := at(t, job, "spec", "activeDeadlineSeconds").(int); d <= 0 {
		t.Error("the Job has no activeDeadlineSeconds: Argo CD would wait for a hung backup forever")
	}
	if b, ok := at(t, job, "spec", "backoffLimit").(int); !ok || b != 0 {
		t.Error("the Job must not be retried by Kubernetes (backoffLimit: 0)")
	}
	if at(t, job, "spec", "template", "spec", "restartPolicy") != "Never" {
		t.Error("restartPolicy must be Never")
	}
	sh := testutil.Program(t, "sh")
	script := hookScript(t, container)
	if out, err := exec.Command(sh, "-n", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("sh -n: %v\n%s", err, out)
	}

	// The annotations the Job reads through the downward API.
	read := map[string]bool{}
	for _, e := range container["env"].([]any) {
		if ref, ok := e.(map[string]any)["valueFrom"]; ok {
			p := at(t, ref, "fieldRef", "fieldPath").(string)
			m := regexp.MustCompile(`^metadata\.annotations\['([^']+)'\]$`).FindStringSubmatch(p)
			if m == nil {
				t.Fatalf("unexpected fieldPath %q", p)
			}
			read[m[1]] = true
		}
	}
	apps := yamlDocs(t, filepath.Join(argoDir, "application.yaml"))
	if len(apps) != 1 || apps[0]["kind"] != "Application" {
		t.Fatalf("application.yaml holds %d documents, want one Application", len(apps))
	}
	sources := at(t, apps[0], "spec", "sources").([]any)
	var stamped map[string]any
	for _, s := range sources {
		if k, ok := s.(map[string]any)["kustomize"]; ok {
			if at(t, k, "commonAnnotationsEnvsubst") != true {
				t.Error("the hook source does not turn on commonAnnotationsEnvsubst: ${ARGOCD_...} would stay literal")
			}
			stamped = at(t, k, "commonAnnotations").(map[string]any)
		}
	}
	if len(stamped) == 0 {
		t.Fatal("no source of the Application stamps annotations for the hook")
	}
	for k := range read {
		if _, ok := stamped[k]; !ok {
			t.Errorf("the Job reads annotation %s, which the Application does not set", k)
		}
	}
	for _, s := range sources {
		if at(t, s, "targetRevision") != at(t, sources[0], "targetRevision") || at(t, s, "repoURL") != at(t, sources[0], "repoURL") {
			t.Error("the sources differ in repository or revision: the hook's ARGOCD_APP_REVISION would not be the application's")
		}
	}

	// Kustomize, as Argo CD runs it, carries the stamped annotations onto
	// the pod template, where the downward API reads them.
	kubectl := testutil.Program(t, "kubectl")
	dir := t.TempDir()
	abs, err := filepath.Abs(argoDir)
	if err != nil {
		t.Fatal(err)
	}
	build := map[string]string{"ARGOCD_APP_SOURCE_TARGET_REVISION": "v2.10.0", "ARGOCD_APP_REVISION": "0123abcd", "ARGOCD_APP_NAME": "payments-prod"}
	var overlay strings.Builder
	overlay.WriteString("resources: [hook]\ncommonAnnotations:\n")
	want := map[string]string{}
	for k, v := range stamped {
		val := os.Expand(v.(string), func(n string) string { return build[n] })
		want[k] = val
		fmt.Fprintf(&overlay, "  %s: %q\n", k, val)
	}
	if err := os.Symlink(abs, filepath.Join(dir, "hook")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(overlay.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, kubectl, "kustomize", "--load-restrictor", "LoadRestrictionsNone", dir).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v", err)
	}
	var rendered map[string]any
	if err := yaml.Unmarshal(out, &rendered); err != nil {
		t.Fatal(err)
	}
	podAnn := at(t, rendered, "spec", "template", "metadata", "annotations").(map[string]any)
	for k, v := range want {
		if podAnn[k] != v {
			t.Errorf("rendered pod annotation %s = %v, want %q", k, podAnn[k], v)
		}
	}
	if want["restorable.io/release"] != "v2.10.0" || want["restorable.io/revision"] != "0123abcd" {
		t.Errorf("the Application stamps release %q and revision %q from the build environment", want["restorable.io/release"], want["restorable.io/revision"])
	}
	if a := at(t, rendered, "metadata", "annotations").(map[string]any); a["argocd.argoproj.io/hook"] != "PreSync" {
		t.Error("kustomize dropped the hook annotation")
	}
}

// posted is one request the fake events API received.
type posted struct {
	auth, contentType, idempotency string
	event                          map[string]any
}

// eventsAPI answers POST /api/v1/events with the given statuses in turn
// (the last one repeats) and records each request.
func eventsAPI(t *testing.T, statuses ...int) (*httptest.Server, func() []posted) {
	t.Helper()
	var mu sync.Mutex
	var got []posted
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/events" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		var ev map[string]any
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, posted{r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.Header.Get("Idempotency-Key"), ev})
		code := statuses[min(len(got), len(statuses))-1]
		mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(s.Close)
	return s, func() []posted {
		mu.Lock()
		defer mu.Unlock()
		return append([]posted(nil), got...)
	}
}

// TestArgoCDHookScript runs the Job's script as the pod would, with the
// real restorable and dump programs against the real PostgreSQL server
// and a fake events API: the backup is taken under the lock, recorded in
// its manifest, and announced once with the bearer token and an
// Idempotency-Key; a busy lock or a failed dump fails the hook and is
// announced as failed; an event that cannot be posted fails it too.
func TestArgoCDHookScript(t *testing.T) {
	sh := testutil.Program(t, "sh")
	for _, p := range []string{"curl", "jq", "pg_dump"} {
		testutil.Program(t, p)
	}
	c := coord(t)
	ctx := context.Background()
	db := fmt.Sprintf("restorable_hooktest_%d", time.Now().UnixNano())
	if _, err := c.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") })
	src, err := pgx.Connect(ctx, strings.Replace(coordDSN, "/postgres?", "/"+db+"?", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Exec(ctx, "CREATE TABLE payments (id int PRIMARY KEY, amount numeric); INSERT INTO payments SELECT g, g * 2 FROM generate_series(1, 100) g"); err != nil {
		t.Fatal(err)
	}
	_ = src.Close(ctx)

	bin := t.TempDir()
	for _, pkg := range []string{".", "../dump"} {
		p := testutil.GoBuild(t, pkg)
		if err := os.Rename(p, filepath.Join(bin, filepath.Base(p))); err != nil {
			t.Fatal(err)
		}
	}
	secrets := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(secrets, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const token = "tok-s3cret-events"
	tokenFile := write("token", token+"\n")
	coordFile := write("coord", coordDSN+"\n")
	goodSource := write("source", strings.Replace(coordDSN, "/postgres?", "/"+db+"?", 1)+"\n")
	badSource := write("bad-source", strings.Replace(coordDSN, "/postgres?", "/"+db+"_missing?", 1)+"\n")

	_, container := hookJob(t)
	script := hookScript(t, container)
	base := map[string]string{}
	for _, e := range container["env"].([]any) {
		m := e.(map[string]any)
		if v, ok := m["value"].(string); ok {
			base[m["name"].(string)] = v
		}
	}

	run := func(t *testing.T, url, source, lockKey, wait string) (int, string, string) {
		t.Helper()
		backups := t.TempDir()
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range map[string]string{
			"RESTORABLE_URL": url, "RESTORABLE_TOKEN_FILE": tokenFile, "COORD_DSN_FILE": coordFile, "SOURCE_DSN_FILE": source,
			"BACKUP_DIR": backups, "LOCK_KEY": lockKey, "LOCK_WAIT": wait,
			"RELEASE": "v2.10.0", "REVISION": "0123abcd", "ACTOR": "argocd/payments-prod",
		} {
			env[k] = v
		}
		cmd := exec.Command(sh, "-c", script)
		cmd.Env = []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if strings.Contains(out.String(), token) || strings.Contains(out.String(), "s3cret") {
			t.Errorf("the hook printed a secret:\n%s", out.String())
		}
		return exitStatus(t, err), out.String(), backups
	}
	checkEvent := func(t *testing.T, p posted, result string) string {
		t.Helper()
		if p.auth != "Bearer "+token || p.contentType != "application/json" {
			t.Errorf("headers: Authorization %q, Content-Type %q", p.auth, p.contentType)
		}
		ev := p.event
		for k, want := range map[string]string{"kind": "pre_release_backup", "env": "prod", "dataset": "payments", "release": "v2.10.0",
			"revision": "0123abcd", "actor": "argocd/payments-prod", "result": result} {
			if ev[k] != want {
				t.Errorf("event %s = %v, want %q", k, ev[k], want)
			}
		}
		if ts, err := time.Parse(time.RFC3339, fmt.Sprint(ev["time"])); err != nil || time.Since(ts) > time.Minute {
			t.Errorf("event time %v", ev["time"])
		}
		b, _ := ev["backup"].(map[string]any)
		id, _ := b["id"].(string)
		if b["source"] != "pre-release-backups" || !strings.HasPrefix(id, "payments-") {
			t.Errorf("event backup %v", b)
		}
		if p.idempotency != "pre-release-backup/"+id {
			t.Errorf("Idempotency-Key %q, want pre-release-backup/%s", p.idempotency, id)
		}
		return id
	}

	t.Run("backup taken and announced", func(t *testing.T) {
		api, got := eventsAPI(t, http.StatusAccepted)
		code, out, backups := run(t, api.URL, goodSource, uniqueKey(t), "30s")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		events := got()
		if len(events) != 1 {
			t.Fatalf("%d events posted, want 1\n%s", len(events), out)
		}
		id := checkEvent(t, events[0], "succeeded")
		if st, err := os.Stat(filepath.Join(backups, id+".dump")); err != nil || st.Size() == 0 {
			t.Errorf("dump %s.dump: %v", id, err)
		}
		if _, err := os.Stat(filepath.Join(backups, id+".dump.checksums.json")); err != nil {
			t.Errorf("checksums: %v", err)
		}
		manifest, err := os.ReadFile(filepath.Join(backups, "manifests", "payments.ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		var rec map[string]any
		if err := json.Unmarshal(manifest, &rec); err != nil {
			t.Fatalf("manifest %s: %v", manifest, err)
		}
		if rec["id"] != id || rec["release"] != "v2.10.0" || rec["env"] != "prod" || rec["dataset"] != "payments" {
			t.Errorf("manifest record %v", rec)
		}
	})

	t.Run("a retried post keeps its Idempotency-Key", func(t *testing.T) {
		api, got := eventsAPI(t, http.StatusServiceUnavailable, http.StatusAccepted)
		code, out, _ := run(t, api.URL, goodSource, uniqueKey(t), "30s")
		events := got()
		if code != 0 || len(events) != 2 {
			t.Fatalf("exit %d after %d posts, want 0 after 2\n%s", code, len(events), out)
		}
		if events[0].idempotency != events[1].idempotency || checkEvent(t, events[1], "succeeded") == "" {
			t.Errorf("Idempotency-Keys %q and %q", events[0].idempotency, events[1].idempotency)
		}
	})

	t.Run("busy lock fails the hook", func(t *testing.T) {
		key := uniqueKey(t)
		if _, err := c.Exec(ctx, "SELECT pg_advisory_lock($1)", lockwatch.Key(key)); err != nil {
			t.Fatal(err)
		}
		defer func() { _, _ = c.Exec(ctx, "SELECT pg_advisory_unlock($1)", lockwatch.Key(key)) }()
		api, got := eventsAPI(t, http.StatusAccepted)
		code, out, backups := run(t, api.URL, goodSource, key, "1s")
		if code != exitBusy {
			t.Fatalf("exit %d, want %d\n%s", code, exitBusy, out)
		}
		events := got()
		if len(events) != 1 {
			t.Fatalf("%d events, want the failure announced once", len(events))
		}
		id := checkEvent(t, events[0], "failed")
		if _, err := os.Stat(filepath.Join(backups, id+".dump")); err == nil {
			t.Error("a dump was taken without the lock")
		}
	})

	t.Run("failed dump fails the hook", func(t *testing.T) {
		api, got := eventsAPI(t, http.StatusAccepted)
		code, out, _ := run(t, api.URL, badSource, uniqueKey(t), "30s")
		if code == 0 || code == 3 {
			t.Fatalf("exit %d, want the dump's failure\n%s", code, out)
		}
		if events := got(); len(events) != 1 || checkEvent(t, events[0], "failed") == "" {
			t.Fatalf("events %v", events)
		}
	})

	t.Run("an event that cannot be posted fails the hook", func(t *testing.T) {
		api, got := eventsAPI(t, http.StatusForbidden)
		code, out, _ := run(t, api.URL, goodSource, uniqueKey(t), "30s")
		if code != 3 || len(got()) != 1 || !strings.Contains(out, "succeeded but the event could not be posted") {
			t.Fatalf("exit %d after %d posts, want 3 after 1\n%s", code, len(got()), out)
		}
	})

	t.Run("missing setting", func(t *testing.T) {
		api, got := eventsAPI(t, http.StatusAccepted)
		cmd := exec.Command(sh, "-c", script)
		cmd.Env = []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "RESTORABLE_URL=" + api.URL}
		out, err := cmd.CombinedOutput()
		if code := exitStatus(t, err); code != 3 || !strings.Contains(string(out), "is unset or empty") || len(got()) != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
	})
}

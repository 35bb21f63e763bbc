package velero

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
	"github.com/restorable/restorable/internal/runx"
)

var now = time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)

const token = "test-token-7f3a"

// apiServer replays Velero's objects as the Kubernetes API serves them:
// list answers paged with limit and continue, errors as Status objects.
type apiServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string
	// expireOnce answers the first request that carries a continue token
	// with 410 Gone, as the API server does for a token it dropped.
	expireOnce bool
	// status, when set, is the answer to every request.
	status int
	items  map[string][]json.RawMessage
}

// setItems replaces the objects of a resource.
func (s *apiServer) setItems(resource string, items []json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items[resource] = items
}

func newAPIServer(t testing.TB) *apiServer {
	t.Helper()
	items := map[string][]json.RawMessage{}
	for res, file := range map[string]string{ResourceBackups: "backup-get-list.json", ResourceSchedules: "schedules.json", ResourceLocations: "backupstoragelocations.json"} {
		var l struct {
			Items []json.RawMessage `json:"items"`
		}
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &l); err != nil {
			t.Fatal(err)
		}
		items[res] = l.Items
	}
	s := &apiServer{items: items}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.URL.RequestURI())
		expire := s.expireOnce && r.URL.Query().Get("continue") != ""
		if expire {
			s.expireOnce = false
		}
		status := s.status
		all, known := s.items[strings.TrimPrefix(r.URL.Path, "/apis/velero.io/v1/namespaces/velero/")]
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fail := func(code int, reason, msg string) {
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{}, "status": "Failure", "message": msg, "reason": reason, "code": code})
		}
		switch {
		case status == http.StatusForbidden:
			fail(status, "Forbidden", `backups.velero.io is forbidden: User "system:serviceaccount:monitoring:restorable" cannot list resource "backups" in API group "velero.io" in the namespace "velero"`)
			return
		case r.Header.Get("Authorization") != "Bearer "+token:
			fail(http.StatusUnauthorized, "Unauthorized", "Unauthorized")
			return
		case expire:
			fail(http.StatusGone, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
			return
		}
		res, ok := strings.CutPrefix(r.URL.Path, "/apis/velero.io/v1/namespaces/velero/")
		if !ok || !known {
			fail(http.StatusNotFound, "NotFound", "the server could not find the requested resource")
			return
		}
		from, _ := strconv.Atoi(r.URL.Query().Get("continue"))
		limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
		if err != nil || limit <= 0 {
			limit = len(all)
		}
		to := min(from+limit, len(all))
		cont := ""
		if to < len(all) {
			cont = strconv.Itoa(to)
		}
		kind := map[string]string{ResourceBackups: "BackupList", ResourceSchedules: "ScheduleList", ResourceLocations: "BackupStorageLocationList"}[res]
		_ = json.NewEncoder(w).Encode(map[string]any{"apiVersion": "velero.io/v1", "kind": kind,
			"metadata": map[string]any{"resourceVersion": "987654", "continue": cont}, "items": all[from:to]})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *apiServer) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}

func (s *apiServer) count(resource string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if strings.Contains(r, "/"+resource+"?") {
			n++
		}
	}
	return n
}

// writeKubeconfig writes a kubeconfig whose current context reaches s
// with user.
func writeKubeconfig(t testing.TB, s *apiServer, user string) string {
	t.Helper()
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
current-context: prod
clusters:
  - name: other
    cluster: {server: "https://192.0.2.1:6443"}
  - name: prod-cluster
    cluster:
      server: %s
      certificate-authority-data: %s
contexts:
  - name: staging
    context: {cluster: other, user: nobody}
  - name: prod
    context: {cluster: prod-cluster, user: monitor, namespace: velero}
users:
  - name: monitor
    user: %s
`, s.URL, base64.StdEncoding.EncodeToString(s.caPEM()), user)
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(p, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newCollector(t testing.TB, opts *config.VeleroOptions) *Collector {
	t.Helper()
	if opts.Namespace == "" {
		opts.Namespace = config.DefaultVeleroNamespace
	}
	if opts.PageSize == 0 {
		opts.PageSize = config.DefaultVeleroPageSize
	}
	src := &config.Source{Name: "k8s-prod", Type: config.TypeVelero, Env: "prod", Velero: opts}
	c, err := New(src, slog.New(slog.DiscardHandler), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func byID(cat *model.Catalog) map[string]model.Backup {
	out := map[string]model.Backup{}
	for _, b := range cat.Backups {
		out[b.ID] = b
	}
	return out
}

// Every phase maps to a status; Deleting backups are left out; an unknown
// phase is running with its text kept.
func checkPhases(t *testing.T, cat *model.Catalog) {
	t.Helper()
	got := byID(cat)
	want := map[string]struct {
		status model.Status
		phase  string
	}{
		"daily-20261201020000":  {model.StatusSucceeded, "Completed"},
		"daily-20261130020000":  {model.StatusPartial, "PartiallyFailed"},
		"daily-20261129020000":  {model.StatusFailed, "Failed"},
		"hourly-20261201050000": {model.StatusRunning, "InProgress"},
		"hourly-20261201040000": {model.StatusRunning, "WaitingForPluginOperationsPartiallyFailed"},
		"hourly-20261201030000": {model.StatusRunning, "Finalizing"},
		"hourly-20261201020000": {model.StatusSucceeded, "Completed"},
		"bad-selector":          {model.StatusFailed, "FailedValidation"},
		"pre-upgrade-v1-4":      {model.StatusSucceeded, "Completed"},
		"future-phase":          {model.StatusRunning, "Archiving"},
		"just-created":          {model.StatusRunning, "New"},
	}
	if len(got) != len(want) {
		t.Errorf("%d backups, want %d (the Deleting one left out): %v", len(got), len(want), slices.Sorted(func(yield func(string) bool) {
			for k := range got {
				if !yield(k) {
					return
				}
			}
		}))
	}
	for id, w := range want {
		b, ok := got[id]
		if !ok {
			t.Errorf("no backup %s", id)
			continue
		}
		if b.Status != w.status || b.Tags[TagPhase] != w.phase {
			t.Errorf("%s: status %s phase tag %q, want %s %q", id, b.Status, b.Tags[TagPhase], w.status, w.phase)
		}
	}
	if _, ok := got["daily-20261001020000"]; ok {
		t.Error("a Deleting backup is in the catalog")
	}
	if e := got["daily-20261129020000"].Error; !strings.Contains(e, "mark it as \"Failed\"") {
		t.Errorf("failure reason %q", e)
	}
	if e := got["bad-selector"].Error; !strings.Contains(e, "Invalid included/excluded namespace lists") {
		t.Errorf("validation error %q", e)
	}
	if e := got["daily-20261130020000"].Error; e != "2 errors, 1 warnings (velero backup logs daily-20261130020000)" {
		t.Errorf("partial failure %q", e)
	}
	m := got["pre-upgrade-v1-4"]
	if m.Release != "v1.4.0" || m.Dataset != Unscheduled || m.Type != model.BackupSnapshot || m.Details().Agent != Agent {
		t.Errorf("manual backup %+v", m)
	}
	d := got["daily-20261201020000"]
	if d.Dataset != "daily" || d.Location != "default" || !d.Start.Equal(time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)) ||
		!d.End.Equal(time.Date(2026, 12, 1, 2, 4, 31, 0, time.UTC)) || !d.RetainUntil.Equal(time.Date(2026, 12, 31, 2, 0, 0, 0, time.UTC)) ||
		d.Env != "prod" || d.Tags[TagWarnings] != "3" {
		t.Errorf("scheduled backup %+v", d)
	}
}

func TestCollectFromAPI(t *testing.T) {
	s := newAPIServer(t)
	c := newCollector(t, &config.VeleroOptions{Kubeconfig: writeKubeconfig(t, s, "{token: "+token+"}"), PageSize: 5})
	m := &runx.Meter{}
	cat, err := c.Collect(runx.WithMeter(context.Background(), m))
	if err != nil {
		t.Fatal(err)
	}
	checkPhases(t, cat)
	// 12 backups at 5 a page are 3 requests; one each for the rest.
	if s.count(ResourceBackups) != 3 || s.count(ResourceSchedules) != 1 || s.count(ResourceLocations) != 1 {
		t.Errorf("requests %v", s.requests)
	}
	calls := m.Calls()
	if calls["kubernetes list backups"] != 3 || calls["kubernetes list schedules"] != 1 || calls["kubernetes list backupstoragelocations"] != 1 {
		t.Errorf("counted %v", calls)
	}
	for op := range calls {
		if !slices.Contains(c.Operations(), op) {
			t.Errorf("operation %q counted but not declared in %v", op, c.Operations())
		}
	}
	got := byID(cat)
	// Storage locations give backups their region and the KMS key the
	// AWS plugin writes with; schedules give their longest interval.
	d := got["daily-20261201020000"]
	if d.Region != "eu-west-1" || !d.Encrypted || d.KeyID != "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab" || d.Details().ExpectedInterval != 24*time.Hour {
		t.Errorf("daily backup region %q encrypted %v key %q interval %s", d.Region, d.Encrypted, d.KeyID, d.Details().ExpectedInterval)
	}
	h := got["hourly-20261201020000"]
	if h.Region != "eu-central-1" || h.Encrypted || h.Details().ExpectedInterval != time.Hour {
		t.Errorf("hourly backup region %q encrypted %v interval %s", h.Region, h.Encrypted, h.Details().ExpectedInterval)
	}
	if len(cat.Repositories) != 2 {
		t.Fatalf("%d repositories, want 2", len(cat.Repositories))
	}
	repos := map[string]model.Repository{}
	for _, r := range cat.Repositories {
		repos[r.Name] = r
		// Velero says nothing of locks: unknown, so never exposed as 0.
		if !r.LocksUnknown {
			t.Errorf("location %s reads as unlocked", r.Name)
		}
	}
	if r := repos["default"]; !r.Healthy || r.StatusCode != StatusAvailable || r.Location != "aws:acme-velero/prod" || r.Region != "eu-west-1" || r.Status != "Available" || !r.ObservedAt.Equal(now) {
		t.Errorf("default location %+v", r)
	}
	if r := repos["secondary"]; r.Healthy || r.StatusCode != StatusUnavailable || r.Location != "aws:acme-velero-dr" ||
		!strings.HasPrefix(r.Status, "Unavailable: BackupStorageLocation \"secondary\" is unavailable") || !strings.HasSuffix(r.Status, "(read-only)") {
		t.Errorf("secondary location %+v", r)
	}
}

// A pod's service account (token and CA) reaches the API server named by
// KUBERNETES_SERVICE_HOST/PORT.
func TestCollectInCluster(t *testing.T) {
	s := newAPIServer(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), s.caPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(strings.TrimPrefix(s.URL, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", host)
	t.Setenv("KUBERNETES_SERVICE_PORT", port)
	c := newCollector(t, &config.VeleroOptions{})
	c.saDir = dir
	cat, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkPhases(t, cat)
	// The token is read on each collection: a rotated one is used.
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("rotated"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Collect(context.Background()); err == nil || !strings.Contains(err.Error(), "in-cluster service account") {
		t.Errorf("a rotated (here: wrong) token was not read: %v", err)
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if _, err := c.Collect(context.Background()); runx.KindOf(err) != runx.KindConfig || !strings.Contains(err.Error(), "not running in a Kubernetes pod") {
		t.Errorf("outside a pod: %v", err)
	}
}

// A continue token that expires mid-list restarts the list once.
func TestExpiredContinueRestartsTheList(t *testing.T) {
	s := newAPIServer(t)
	s.expireOnce = true
	c := newCollector(t, &config.VeleroOptions{Kubeconfig: writeKubeconfig(t, s, "{token: "+token+"}"), PageSize: 5})
	cat, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkPhases(t, cat)
	// 2 pages, the 410, then 3 pages again.
	if n := s.count(ResourceBackups); n != 5 {
		t.Errorf("%d backup list requests, want 5: %v", n, s.requests)
	}
}

// Rejected credentials give a configuration error that names where the
// credentials came from.
func TestCredentialErrors(t *testing.T) {
	s := newAPIServer(t)
	kc := writeKubeconfig(t, s, "{token: expired-token}")
	_, err := newCollector(t, &config.VeleroOptions{Kubeconfig: kc}).Collect(context.Background())
	if runx.KindOf(err) != runx.KindConfig || !strings.Contains(err.Error(), "rejects the credentials of kubeconfig "+kc+", context prod (401 Unauthorized)") {
		t.Errorf("401: %v", err)
	}
	if strings.Contains(fmt.Sprint(err), "expired-token") {
		t.Errorf("the error holds the token: %v", err)
	}
	s.status = http.StatusForbidden
	_, err = newCollector(t, &config.VeleroOptions{Kubeconfig: writeKubeconfig(t, s, "{token: "+token+"}")}).Collect(context.Background())
	if runx.KindOf(err) != runx.KindConfig || !strings.Contains(err.Error(), "may not list backups.velero.io (403)") {
		t.Errorf("403: %v", err)
	}
	s.status = 0
	_, err = newCollector(t, &config.VeleroOptions{Kubeconfig: writeKubeconfig(t, s, "{exec: {command: aws, args: [eks, get-token]}}")}).Collect(context.Background())
	if runx.KindOf(err) != runx.KindConfig || !strings.Contains(err.Error(), "exec or auth-provider plugin") {
		t.Errorf("exec plugin: %v", err)
	}
	_, err = newCollector(t, &config.VeleroOptions{Kubeconfig: writeKubeconfig(t, s, "{token: "+token+"}"), Namespace: "backups"}).Collect(context.Background())
	if runx.KindOf(err) != runx.KindConfig || !strings.Contains(err.Error(), "404") {
		t.Errorf("wrong namespace: %v", err)
	}
}

// `velero backup get -o json` prints a BackupList, or the bare Backup when
// exactly one matches: both are read, from a file or the program.
func TestCollectFromBackupGet(t *testing.T) {
	list := newCollector(t, &config.VeleroOptions{File: "testdata/backup-get-list.json"})
	cat, err := list.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkPhases(t, cat)
	if len(cat.Repositories) != 0 {
		t.Errorf("repositories from backup get output: %v", cat.Repositories)
	}
	for _, c := range []*Collector{
		newCollector(t, &config.VeleroOptions{File: "testdata/backup-get-single.json"}),
		newCollector(t, &config.VeleroOptions{Binary: "testdata/velero"}),
	} {
		m := &runx.Meter{}
		cat, err := c.Collect(runx.WithMeter(context.Background(), m))
		if err != nil {
			t.Fatal(err)
		}
		if len(cat.Backups) != 1 || cat.Backups[0].ID != "pre-upgrade-v1-4" || cat.Backups[0].Status != model.StatusSucceeded {
			t.Errorf("single backup: %+v", cat.Backups)
		}
		for op := range m.Calls() {
			if !slices.Contains(c.Operations(), op) {
				t.Errorf("operation %q counted but not declared in %v", op, c.Operations())
			}
		}
	}
}

func TestParseBackupGetErrors(t *testing.T) {
	for in, want := range map[string]string{
		``:                                   "empty output",
		`{"kind":"Schedule"}`:                `a "Schedule" object, neither a BackupList nor a Backup`,
		`{"kind":"Backup","metadata":{}}`:    "without metadata.name",
		`{"kind":"BackupList","items":[{}]}`: "item 0 has no metadata.name",
		`{"kind":"List","items":[{"kind":"Restore","metadata":{"name":"r"}}]}`: "item 0 is a Restore",
		`Error: backups.velero.io "x" not found`:                               "invalid character",
	} {
		_, err := parseBackupGet([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", in, err, want)
		}
	}
}

func TestScheduleInterval(t *testing.T) {
	for spec, want := range map[string]time.Duration{
		"0 2 * * *":    24 * time.Hour,
		"@every 6h":    6 * time.Hour,
		"@daily":       24 * time.Hour,
		"*/15 * * * *": 15 * time.Minute,
		"30 1 * * 1-5": 72 * time.Hour, // Friday to Monday
		// The weekend that ends summer time is an hour longer.
		"CRON_TZ=Europe/Paris 30 1 * * 1-5": 73 * time.Hour,
		"0 3 1 * *":                         31 * 24 * time.Hour,
	} {
		got, err := ScheduleInterval(spec, now)
		if err != nil || got != want {
			t.Errorf("%q: %s, %v; want %s", spec, got, err, want)
		}
	}
	for _, bad := range []string{"", "every day", "0 3 30 2 *", "61 * * * *"} {
		if d, err := ScheduleInterval(bad, now); err == nil {
			t.Errorf("%q accepted as %s", bad, d)
		}
	}
}

// A schedule whose spec cannot be read is reported, and its backups get no
// interval rather than a wrong one.
func TestUnreadableSchedule(t *testing.T) {
	var sched schedule
	sched.Metadata.Name = "nightly"
	sched.Spec.Schedule = "every night"
	var warned []string
	m := newMapper(&config.Source{Name: "k8s"}, &config.VeleroOptions{}, now, nil, []schedule{sched}, func(name string, err error) {
		warned = append(warned, name+": "+err.Error())
	})
	var b backup
	b.Metadata.Name = "nightly-1"
	b.Metadata.Labels = map[string]string{LabelSchedule: "nightly"}
	b.Status.Phase = "Completed"
	got, ok := m.backup(&b)
	if !ok || got.Dataset != "nightly" {
		t.Fatalf("backup %+v", got)
	}
	if got.Details().ExpectedInterval != 0 || len(warned) != 1 || !strings.HasPrefix(warned[0], `nightly: schedule "every night"`) {
		t.Errorf("interval %s, warnings %v", got.Details().ExpectedInterval, warned)
	}
}

// A schedule's interval is its series' expected interval: at 06:00 the
// hourly schedule's newest good backup (02:01) is nearly 4h old, late for
// a schedule that runs every hour (plus the grace of 1h), though well
// within the environment's RPO of a day; the daily one (02:04) is not.
// A source's expected_interval wins over the schedules, in both
// directions, and applies to every series of the source, the backups no
// schedule made (unscheduled, 28 November) included.
func TestScheduleIntervalFeedsThePolicy(t *testing.T) {
	s := newAPIServer(t)
	for _, tc := range []struct {
		name, interval string
		late           []string
	}{
		{"the schedules", "", []string{"k8s-prod/hourly"}},
		{"a longer expected_interval", "expected_interval: 6h, ", []string{"k8s-prod/unscheduled"}},
		{"a shorter expected_interval", "expected_interval: 2h, ", []string{"k8s-prod/daily", "k8s-prod/hourly", "k8s-prod/unscheduled"}},
	} {
		cfg, err := config.Parse("restorable.yml", []byte(`environments:
  prod: {rpo: 1d}
sources:
  - {name: k8s-prod, type: velero, env: prod, `+tc.interval+`velero: {kubeconfig: `+writeKubeconfig(t, s, "{token: "+token+"}")+`}}
`))
		if err != nil {
			t.Fatal(err)
		}
		c, err := New(cfg.Sources[0], slog.New(slog.DiscardHandler), func() time.Time { return now })
		if err != nil {
			t.Fatal(err)
		}
		cat, err := c.Collect(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		res := policy.Evaluate(cfg, policy.Input{At: now, Backups: policy.Backups(cat.Backups)})
		var late []string
		for _, f := range res.Findings {
			switch f.Check {
			case policy.CheckLate:
				late = append(late, f.Subject.String())
			case policy.CheckRPO:
				if f.Subject.Dataset != Unscheduled {
					t.Errorf("%s: rpo finding for %s: %s", tc.name, f.Subject, f.Observed)
				}
			}
		}
		slices.Sort(late)
		if !slices.Equal(late, tc.late) {
			t.Errorf("%s: late %v, want %v", tc.name, late, tc.late)
		}
	}
}

// scheduleItem is a Schedule object as the API lists it.
func scheduleItem(t *testing.T, name, spec string) json.RawMessage {
	t.Helper()
	data, err := json.Marshal(map[string]any{"apiVersion": "velero.io/v1", "kind": "Schedule",
		"metadata": map[string]any{"name": name, "namespace": "velero"}, "spec": map[string]any{"schedule": spec}})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The backups of a schedule keep the interval of the schedule that made
// them once it is deleted or its spec stops parsing: the collector
// remembers the last interval it read of each schedule, so the hourly
// series stays late (the environment's RPO of a day alone would not tell).
// A schedule still listed is read afresh, and the newest read is the one
// remembered; an exporter restarted after the deletion knows nothing of
// the schedule, and judges its backups by the RPO only.
func TestDeletedScheduleKeepsItsInterval(t *testing.T) {
	s := newAPIServer(t)
	cfg, err := config.Parse("restorable.yml", []byte(`environments:
  prod: {rpo: 1d}
sources:
  - {name: k8s-prod, type: velero, env: prod, velero: {kubeconfig: `+writeKubeconfig(t, s, "{token: "+token+"}")+`}}
`))
	if err != nil {
		t.Fatal(err)
	}
	newC := func() *Collector {
		c, err := New(cfg.Sources[0], slog.New(slog.DiscardHandler), func() time.Time { return now })
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	collect := func(step string, c *Collector, daily, hourly time.Duration, late []string) {
		t.Helper()
		cat, err := c.Collect(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		got := byID(cat)
		for id, want := range map[string]time.Duration{
			"daily-20261201020000": daily, "daily-20261130020000": daily,
			"hourly-20261201020000": hourly, "hourly-20261201050000": hourly,
			"pre-upgrade-v1-4": 0,
		} {
			b, ok := got[id]
			if !ok {
				t.Fatalf("%s: no backup %s", step, id)
			}
			if d := b.Details().ExpectedInterval; d != want {
				t.Errorf("%s: %s interval %s, want %s", step, id, d, want)
			}
		}
		var gotLate []string
		for _, f := range policy.Evaluate(cfg, policy.Input{At: now, Backups: policy.Backups(cat.Backups)}).Findings {
			if f.Check == policy.CheckLate {
				gotLate = append(gotLate, f.Subject.String())
			}
		}
		slices.Sort(gotLate)
		if !slices.Equal(gotLate, late) {
			t.Errorf("%s: late %v, want %v", step, gotLate, late)
		}
	}
	c := newC()
	collect("schedules listed", c, 24*time.Hour, time.Hour, []string{"k8s-prod/hourly"})
	// hourly deleted, daily's spec no longer parses.
	s.setItems(ResourceSchedules, []json.RawMessage{scheduleItem(t, "daily", "every night")})
	collect("hourly deleted, daily unreadable", c, 24*time.Hour, time.Hour, []string{"k8s-prod/hourly"})
	collect("and again", c, 24*time.Hour, time.Hour, []string{"k8s-prod/hourly"})
	// A schedule listed again is read afresh: hourly now runs every 6 h,
	// and its newest good backup (02:01) is not late at 06:00.
	s.setItems(ResourceSchedules, []json.RawMessage{scheduleItem(t, "hourly", "@every 6h"), scheduleItem(t, "daily", "0 2 * * *")})
	collect("hourly edited", c, 24*time.Hour, 6*time.Hour, nil)
	s.setItems(ResourceSchedules, nil)
	collect("all deleted", c, 24*time.Hour, 6*time.Hour, nil)
	s.setItems(ResourceSchedules, []json.RawMessage{scheduleItem(t, "hourly", "@every 1h")})
	collect("hourly back", c, 24*time.Hour, time.Hour, []string{"k8s-prod/hourly"})
	// After a restart, the deleted schedule is unknown.
	s.setItems(ResourceSchedules, nil)
	collect("restarted", newC(), 0, 0, nil)
}

// A collection that began before the one that last read a schedule (an
// abandoned one returning late) does not overwrite the newer read.
func TestRememberIntervalsKeepsTheNewestRead(t *testing.T) {
	c := newCollector(t, &config.VeleroOptions{})
	mapper := func(at time.Time, spec string) *mapper {
		var sched schedule
		sched.Metadata.Name = "nightly"
		sched.Spec.Schedule = spec
		m := newMapper(c.src, c.opts, at, nil, []schedule{sched}, func(string, error) {})
		c.rememberIntervals(m)
		return m
	}
	mapper(now, "@every 2h")
	if m := mapper(now.Add(-time.Hour), "@every 5h"); m.intervals["nightly"] != 5*time.Hour {
		t.Errorf("the late collection's own read is %s, want 5h", m.intervals["nightly"])
	}
	if m := mapper(now.Add(time.Hour), "never"); m.intervals["nightly"] != 2*time.Hour {
		t.Errorf("remembered %s, want the newest read, 2h", m.intervals["nightly"])
	}
}

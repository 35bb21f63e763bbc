package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/policy"
)

// An exporter's overridden answer: analyze gate --exporter allows (exit 0),
// still prints the reasons, and says who overrode the gate, why and until
// when; an Alertmanager alert on the same breach does not close it again.
func TestGateFromExporterShowsTheOverride(t *testing.T) {
	since := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	denied := policy.GateAnswer{
		GateRequest: policy.GateRequest{Env: "prod"},
		Reasons:     []policy.GateReason{{Check: policy.CheckRPO, Severity: policy.SeverityCritical, Subject: "pg/orders", Detail: "newest backup 5h old"}},
		EvaluatedAt: since.Add(time.Minute),
	}
	ans := policy.ApplyOverrides(denied, []policy.Override{{Env: "prod", By: "alice", Reason: "INC-42 hotfix", Since: since, ExpiresAt: since.Add(2 * time.Hour)}}, since.Add(time.Minute))
	body, err := json.Marshal(ans)
	if err != nil {
		t.Fatal(err)
	}
	exp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer exp.Close()
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`[{"labels":{"alertname":"RestorableBackupRPOBreached","env":"prod","gate":"deploy"},"annotations":{"summary":"old"},"status":{"state":"active","silencedBy":[],"inhibitedBy":[]}}]`))
	}))
	defer am.Close()
	for _, args := range [][]string{
		{"gate", "--env", "prod", "--exporter", exp.URL},
		{"gate", "--env", "prod", "--exporter", exp.URL, "--alertmanager", am.URL},
	} {
		code, out, errOut := runIn(t, args...)
		if code != exitAllow {
			t.Errorf("%v: exit %d, want %d (allow)\n%s%s", args, code, exitAllow, out, errOut)
		}
		for _, want := range []string{"ALLOW deploy to prod", "rpo [critical] pg/orders: newest backup 5h old", "OVERRIDDEN by alice since 2026-11-25T20:00:00Z until 2026-11-25T22:00:00Z: INC-42 hotfix"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: output lacks %q:\n%s", args, want, out)
			}
		}
	}
}

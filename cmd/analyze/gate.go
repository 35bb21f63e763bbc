package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/restorable/restorable/internal/policy"
)

type gateOptions struct {
	env, dataset, release  string
	exporter, alertmanager string
	format                 string
	timeout                time.Duration
}

// Exit codes of the gate: a pipeline runs `analyze gate` as its check.
const (
	exitAllow = 0
	exitDeny  = 1
)

func gateCommand(app *kingpin.Application, g *globals) subcommand {
	o := &gateOptions{}
	c := app.Command("gate", "Answer the deploy gate: may a release go to --env now? Exits 0 allow, 1 deny, 2 error, and prints the reasons.")
	c.Flag("env", "Environment the release goes to.").Required().StringVar(&o.env)
	c.Flag("dataset", "Only gate on this dataset.").StringVar(&o.dataset)
	c.Flag("release", "Release about to be deployed (recorded in the answer).").StringVar(&o.release)
	c.Flag("exporter", "Ask this exporter (its /api/v1/gate) instead of evaluating the history; an empty URL is an error.").PlaceHolder("URL").SetValue(urlFlag{"exporter", &o.exporter})
	c.Flag("alertmanager", "Also deny while this Alertmanager has an active, unsilenced alert labelled gate=\"deploy\" for the env (API v2); an empty URL is an error.").PlaceHolder("URL").SetValue(urlFlag{"alertmanager", &o.alertmanager})
	enumFlag(c.Flag("format", "Output format.").Default("text"), &o.format, "text", "json")
	c.Flag("timeout", "Longest to wait for the exporter or Alertmanager.").Default("30s").DurationVar(&o.timeout)
	return subcommand{clause: c, run: func(ctx context.Context, g *globals) (int, error) { return runGate(ctx, g, o) }}
}

func runGate(ctx context.Context, g *globals, o *gateOptions) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	req := policy.GateRequest{Env: o.env, Dataset: o.dataset, Release: o.release}
	var (
		ans policy.GateAnswer
		err error
	)
	if o.exporter != "" {
		ans, err = gateFromExporter(ctx, o.exporter, req)
	} else {
		ans, err = gateFromHistory(ctx, g, req)
	}
	if err != nil {
		return exitError, err
	}
	if o.alertmanager != "" {
		reasons, err := gateAlerts(ctx, o.alertmanager, req)
		if err != nil {
			return exitError, err
		}
		ans.Reasons = append(ans.Reasons, reasons...)
		// A break-glass override overrules the alerts as it overrules the
		// findings they fire on: they are listed, and the gate stays open.
		ans.Allow = ans.Allow && (len(reasons) == 0 || ans.Override != nil)
	}
	if err := writeGate(g.stdout, o.format, &ans); err != nil {
		return exitError, err
	}
	if !ans.Allow {
		return exitDeny, nil
	}
	return exitAllow, nil
}

// gateFromExporter asks a running exporter: the answer its metrics and API
// give, from the state it holds in memory.
func gateFromExporter(ctx context.Context, base string, req policy.GateRequest) (policy.GateAnswer, error) {
	q := url.Values{"env": {req.Env}}
	if req.Dataset != "" {
		q.Set("dataset", req.Dataset)
	}
	if req.Release != "" {
		q.Set("release", req.Release)
	}
	var ans policy.GateAnswer
	body, code, err := httpGet(ctx, strings.TrimRight(base, "/")+"/api/v1/gate?"+q.Encode())
	if err != nil {
		return ans, fmt.Errorf("ask the exporter: %w", err)
	}
	if code != http.StatusOK {
		return ans, fmt.Errorf("ask the exporter: HTTP %d: %s", code, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return ans, fmt.Errorf("read the exporter's answer: %w", err)
	}
	return ans, nil
}

// gateFromHistory evaluates the state the history records now, with the
// same policy functions the exporter uses.
func gateFromHistory(ctx context.Context, g *globals, req policy.GateRequest) (policy.GateAnswer, error) {
	cfg, err := g.requireConfig("gate")
	if err != nil {
		return policy.GateAnswer{}, err
	}
	db, err := g.open(ctx, cfg)
	if err != nil {
		return policy.GateAnswer{}, err
	}
	defer db.Close() //nolint:errcheck // read-only database
	at := g.now().UTC()
	res, err := evaluate(ctx, db, cfg, at, at.Add(-cfg.Checks.Period.D()), g.logger)
	if err != nil {
		return policy.GateAnswer{}, err
	}
	ans, err := policy.Gate(cfg, res, req)
	if err != nil {
		return ans, err
	}
	// Overrides set through the exporter are in the audit table; the one in
	// force now overrules the answer as the exporter's does.
	overrides, err := db.Overrides(ctx, at)
	if err != nil {
		return ans, err
	}
	ans = policy.ApplyOverrides(ans, overrides, at)
	// The evaluation reads the columns the checks need; the checksum of the
	// one backup the answer names is looked up.
	if b := ans.LatestGoodBackup; b != nil && b.Checksum == "" {
		if b.Checksum, err = db.Checksum(ctx, b.Source, b.Dataset, b.ID); err != nil {
			return ans, err
		}
	}
	return ans, nil
}

// amAlert is the part of an Alertmanager API v2 alert the gate reads.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	Status      struct {
		State       string   `json:"state"`
		SilencedBy  []string `json:"silencedBy"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

// gateAlerts returns a reason for every active, unsilenced alert labelled
// gate="deploy" whose env is the requested one. An alert without an env
// (the exporter itself is down) blocks every environment. An inhibited
// alert still blocks: inhibition quiets notifications, not the breach.
func gateAlerts(ctx context.Context, base string, req policy.GateRequest) ([]policy.GateReason, error) {
	q := url.Values{"active": {"true"}, "silenced": {"false"}, "inhibited": {"true"}, "unprocessed": {"true"}, "filter": {`gate="deploy"`}}
	body, code, err := httpGet(ctx, strings.TrimRight(base, "/")+"/api/v2/alerts?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("ask Alertmanager: %w", err)
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("ask Alertmanager: HTTP %d: %s", code, strings.TrimSpace(string(body)))
	}
	var alerts []amAlert
	if err := json.Unmarshal(body, &alerts); err != nil {
		return nil, fmt.Errorf("read Alertmanager's alerts: %w", err)
	}
	var out []policy.GateReason
	for _, a := range alerts {
		env, hasEnv := a.Labels["env"]
		if hasEnv && env != req.Env || len(a.Status.SilencedBy) > 0 {
			continue
		}
		if req.Dataset != "" && a.Labels["dataset"] != "" && a.Labels["dataset"] != req.Dataset {
			continue
		}
		detail := a.Annotations["summary"]
		if detail == "" {
			detail = "active since " + a.StartsAt.UTC().Format(time.RFC3339)
		}
		var subject []string
		for _, k := range []string{"source", "dataset", "probe"} {
			if v := a.Labels[k]; v != "" {
				subject = append(subject, v)
			}
		}
		out = append(out, policy.GateReason{
			Check: "alert:" + a.Labels["alertname"], Severity: alertSeverity(a.Labels["severity"]),
			Subject: strings.Join(subject, "/"), Detail: detail,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Check+out[i].Subject < out[j].Check+out[j].Subject })
	return out, nil
}

func alertSeverity(s string) policy.Severity {
	if v, err := policy.ParseSeverity(s); err == nil {
		return v
	}
	return policy.SeverityCritical
}

func httpGet(ctx context.Context, u string) ([]byte, int, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close() //nolint:errcheck // read-only response
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return body, resp.StatusCode, err
}

func writeGate(w io.Writer, format string, a *policy.GateAnswer) error {
	if format == "json" {
		return writeJSON(w, a)
	}
	verdict := "ALLOW"
	if !a.Allow {
		verdict = "DENY"
	}
	target := a.Env
	if a.Dataset != "" {
		target += "/" + a.Dataset
	}
	if a.Release != "" {
		target += " (release " + a.Release + ")"
	}
	if _, err := fmt.Fprintf(w, "%s deploy to %s at %s\n", verdict, target, a.EvaluatedAt.UTC().Format(time.RFC3339)); err != nil {
		return err
	}
	for _, r := range a.Reasons {
		subject := r.Subject
		if subject != "" {
			subject = " " + subject
		}
		if _, err := fmt.Fprintf(w, "  - %s [%s]%s: %s\n", r.Check, r.Severity, subject, r.Detail); err != nil {
			return err
		}
	}
	if o := a.Override; o != nil {
		scope := ""
		if o.Dataset != "" {
			scope = " (dataset " + o.Dataset + ")"
		}
		if _, err := fmt.Fprintf(w, "OVERRIDDEN%s by %s since %s until %s: %s\n", scope, o.By, o.Since.UTC().Format(time.RFC3339), o.ExpiresAt.UTC().Format(time.RFC3339), o.Reason); err != nil {
			return err
		}
	}
	if b := a.LatestGoodBackup; b != nil {
		_, err := fmt.Fprintf(w, "latest good backup: %s %s/%s %s at %s %s\n", b.Env, b.Source, b.Dataset, b.ID, b.Time.UTC().Format(time.RFC3339), b.Checksum)
		return err
	}
	return nil
}

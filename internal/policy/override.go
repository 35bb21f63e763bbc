package policy

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/restorable/restorable/internal/config"
)

// Bounds of a break-glass override. An override is for getting one urgent
// release out, not for living with a closed gate: a day is the longest it
// may last, after which someone has to decide again, on the record.
const (
	MaxOverrideDuration     = 24 * time.Hour
	MaxOverrideReasonLength = 500
)

// Override is a break-glass override of the deploy gate: while it is
// active the gate allows deploys to its environment (or to its dataset of
// it) whatever the findings say. It overrules the verdict only; the
// findings, their metrics and their alerts stay.
type Override struct {
	Env string `json:"env"`
	// Dataset limits the override to one dataset; empty overrides the
	// whole environment.
	Dataset string `json:"dataset,omitempty"`
	// By is the principal who set it.
	By        string    `json:"by"`
	Reason    string    `json:"reason"`
	Since     time.Time `json:"since"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Active reports whether o is in force at t: from Since up to, not
// including, ExpiresAt.
func (o *Override) Active(t time.Time) bool {
	return !t.Before(o.Since) && t.Before(o.ExpiresAt)
}

// Validate checks what a person asking for an override must give: a
// non-empty reason of bounded length and an expiry after since, at most
// MaxOverrideDuration later. Its errors name the field at fault.
func (o *Override) Validate() error {
	if o.Env == "" {
		return fmt.Errorf("env: required")
	}
	if strings.TrimSpace(o.Reason) == "" {
		return fmt.Errorf("reason: required, and must not be blank")
	}
	if n := utf8.RuneCountInString(o.Reason); n > MaxOverrideReasonLength {
		return fmt.Errorf("reason: %d characters, at most %d allowed", n, MaxOverrideReasonLength)
	}
	if !o.ExpiresAt.After(o.Since) {
		return fmt.Errorf("expires_at: %s is not after now (%s)", o.ExpiresAt.UTC().Format(time.RFC3339), o.Since.UTC().Format(time.RFC3339))
	}
	if d := o.ExpiresAt.Sub(o.Since); d > MaxOverrideDuration {
		return fmt.Errorf("expires_at: %s from now, at most %s allowed", d.Round(time.Second), MaxOverrideDuration)
	}
	return nil
}

// Covers reports whether o applies to a gate request for env and dataset:
// an override of the whole environment covers every dataset of it, an
// override of one dataset covers requests for that dataset only (so it
// never opens the environment-wide gauge).
func (o *Override) Covers(env, dataset string) bool {
	return o.Env == env && (o.Dataset == "" || o.Dataset == dataset)
}

// GateOverride is the override an answer was overruled by.
type GateOverride struct {
	Dataset   string    `json:"dataset,omitempty"`
	By        string    `json:"by"`
	Reason    string    `json:"reason"`
	Since     time.Time `json:"since"`
	ExpiresAt time.Time `json:"expires_at"`
}

// OverrideFor returns the override of overrides in force at t that covers
// env and dataset, nil when none does. When several do (one of the
// environment, one of the dataset), the one that lasts longest wins.
func OverrideFor(overrides []Override, env, dataset string, at time.Time) *Override {
	var best *Override
	for i := range overrides {
		o := &overrides[i]
		if !o.Covers(env, dataset) || !o.Active(at) {
			continue
		}
		if best == nil || o.ExpiresAt.After(best.ExpiresAt) {
			best = o
		}
	}
	return best
}

// ApplyOverrides overrules answer with the override in force at at that
// covers its request: the answer then allows, keeps every reason it would
// have denied for, and says who overruled it, why and until when. An
// answer no override covers is returned as it is. It is a pure function,
// like Gate.
func ApplyOverrides(answer GateAnswer, overrides []Override, at time.Time) GateAnswer {
	o := OverrideFor(overrides, answer.Env, answer.Dataset, at)
	if o == nil {
		return answer
	}
	answer.Allow = true
	answer.Override = &GateOverride{Dataset: o.Dataset, By: o.By, Reason: o.Reason, Since: o.Since.UTC(), ExpiresAt: o.ExpiresAt.UTC()}
	return answer
}

// GateOpenWith answers the gate of every environment as GateOpen does,
// then with the overrides in force at at, for the
// restorable_deploy_gate_open gauge: an environment under an override of
// the whole environment reads open.
func GateOpenWith(cfg *config.Config, res *Result, overrides []Override, at time.Time) map[string]bool {
	out := GateOpen(cfg, res)
	for env := range out {
		if OverrideFor(overrides, env, "", at) != nil {
			out[env] = true
		}
	}
	return out
}

// OverrideAuditDetail is the detail of the audit entry that sets or
// withdraws o: the override as JSON, so that the history's audit table
// can be read back into overrides (ReplayOverrides) as well as by people.
func OverrideAuditDetail(o Override) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	// A reason with < or & reads as written.
	enc.SetEscapeHTML(false)
	// An Override always encodes.
	_ = enc.Encode(o)
	return strings.TrimSpace(b.String())
}

// OverrideEvent is an audited change of the overrides: Set (the
// gate.override action) or a withdrawal (gate.override.withdraw), with
// the entry's detail.
type OverrideEvent struct {
	Set    bool
	Detail string
}

// ReplayOverrides rebuilds the overrides from their audited changes,
// oldest first, and returns those in force at at. A detail that does not
// decode (an entry written before details were JSON) is skipped.
func ReplayOverrides(events []OverrideEvent, at time.Time) []Override {
	type key struct{ env, dataset string }
	kept := map[key]Override{}
	seen := map[key]bool{}
	var order []key
	for _, ev := range events {
		var o Override
		if err := json.Unmarshal([]byte(ev.Detail), &o); err != nil || o.Env == "" {
			continue
		}
		k := key{o.Env, o.Dataset}
		if !ev.Set {
			delete(kept, k)
			continue
		}
		if !seen[k] {
			seen[k] = true
			order = append(order, k)
		}
		kept[k] = o
	}
	var out []Override
	for _, k := range order {
		if o, ok := kept[k]; ok && o.Active(at) {
			out = append(out, o)
		}
	}
	return out
}

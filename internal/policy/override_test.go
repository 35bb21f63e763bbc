package policy

import (
	"strings"
	"testing"
	"time"
)

func TestApplyOverrides(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	denied := GateAnswer{
		GateRequest: GateRequest{Env: "prod"},
		Reasons:     []GateReason{{Check: CheckRPO, Severity: SeverityCritical, Subject: "s/orders", Detail: "too old"}},
	}
	forDataset := denied
	forDataset.Dataset = "orders"
	envWide := Override{Env: "prod", By: "rm", Reason: "hotfix", Since: t0, ExpiresAt: t0.Add(time.Hour)}
	orders := Override{Env: "prod", Dataset: "orders", By: "rm", Reason: "orders hotfix", Since: t0, ExpiresAt: t0.Add(2 * time.Hour)}
	other := Override{Env: "dev", By: "rm", Reason: "dev", Since: t0, ExpiresAt: t0.Add(time.Hour)}
	cases := []struct {
		name       string
		answer     GateAnswer
		overrides  []Override
		at         time.Time
		wantAllow  bool
		wantReason string // the override's reason in the answer; empty: none
	}{
		{"no override denies", denied, nil, t0, false, ""},
		{"env override allows", denied, []Override{envWide}, t0.Add(time.Minute), true, "hotfix"},
		{"env override covers a dataset", forDataset, []Override{envWide}, t0.Add(time.Minute), true, "hotfix"},
		{"dataset override does not cover the env", denied, []Override{orders}, t0.Add(time.Minute), false, ""},
		{"dataset override covers its dataset", forDataset, []Override{orders}, t0.Add(time.Minute), true, "orders hotfix"},
		{"the longer-lasting override wins", forDataset, []Override{envWide, orders}, t0.Add(time.Minute), true, "orders hotfix"},
		{"another env's override does nothing", denied, []Override{other}, t0.Add(time.Minute), false, ""},
		{"expired at expires_at", denied, []Override{envWide}, t0.Add(time.Hour), false, ""},
		{"not yet in force before since", denied, []Override{envWide}, t0.Add(-time.Second), false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ApplyOverrides(c.answer, c.overrides, c.at)
			if got.Allow != c.wantAllow {
				t.Errorf("allow = %v, want %v", got.Allow, c.wantAllow)
			}
			if len(got.Reasons) != len(c.answer.Reasons) {
				t.Errorf("reasons %+v, want the denial's %+v kept", got.Reasons, c.answer.Reasons)
			}
			switch {
			case c.wantReason == "" && got.Override != nil:
				t.Errorf("override %+v in an answer none covers", got.Override)
			case c.wantReason != "" && (got.Override == nil || got.Override.Reason != c.wantReason || got.Override.By != "rm"):
				t.Errorf("override %+v, want reason %q by rm", got.Override, c.wantReason)
			}
		})
	}
	if denied.Allow || denied.Override != nil {
		t.Error("ApplyOverrides changed the answer it was given")
	}
}

func TestOverrideValidate(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ok := Override{Env: "prod", Reason: "hotfix for INC-1", Since: t0, ExpiresAt: t0.Add(MaxOverrideDuration)}
	if err := ok.Validate(); err != nil {
		t.Fatalf("a valid override: %v", err)
	}
	cases := []struct {
		name  string
		edit  func(o *Override)
		field string
	}{
		{"no env", func(o *Override) { o.Env = "" }, "env:"},
		{"no reason", func(o *Override) { o.Reason = "" }, "reason:"},
		{"blank reason", func(o *Override) { o.Reason = " \t\n" }, "reason:"},
		{"reason too long", func(o *Override) { o.Reason = strings.Repeat("é", MaxOverrideReasonLength+1) }, "reason:"},
		{"expiry in the past", func(o *Override) { o.ExpiresAt = t0.Add(-time.Minute) }, "expires_at:"},
		{"expiry now", func(o *Override) { o.ExpiresAt = t0 }, "expires_at:"},
		{"expiry too far", func(o *Override) { o.ExpiresAt = t0.Add(MaxOverrideDuration + time.Second) }, "expires_at:"},
	}
	for _, c := range cases {
		o := ok
		c.edit(&o)
		err := o.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), c.field) {
			t.Errorf("%s: error %v, want one naming %s", c.name, err, c.field)
		}
	}
	long := ok
	long.Reason = strings.Repeat("é", MaxOverrideReasonLength)
	if err := long.Validate(); err != nil {
		t.Errorf("a reason of exactly %d characters: %v", MaxOverrideReasonLength, err)
	}
}

func TestReplayOverrides(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	prod := Override{Env: "prod", By: "a", Reason: "first <&> \"quoted\"", Since: t0, ExpiresAt: t0.Add(time.Hour)}
	prod2 := prod
	prod2.Reason, prod2.Since, prod2.ExpiresAt = "second", t0.Add(10*time.Minute), t0.Add(3*time.Hour)
	dev := Override{Env: "dev", Dataset: "orders", By: "b", Reason: "dev", Since: t0, ExpiresAt: t0.Add(time.Hour)}
	set := func(o Override) OverrideEvent { return OverrideEvent{Set: true, Detail: OverrideAuditDetail(o)} }
	withdraw := func(o Override) OverrideEvent { return OverrideEvent{Detail: OverrideAuditDetail(o)} }
	events := []OverrideEvent{set(prod), set(dev), withdraw(dev), {Set: true, Detail: "env=prod reason=old format"}, withdraw(prod), set(prod2)}
	got := ReplayOverrides(events, t0.Add(30*time.Minute))
	if len(got) != 1 || got[0].Reason != "second" || !got[0].ExpiresAt.Equal(prod2.ExpiresAt) {
		t.Errorf("replayed %+v, want only the second prod override", got)
	}
	if got := ReplayOverrides(events[:2], t0.Add(30*time.Minute)); len(got) != 2 || got[0].Reason != prod.Reason || got[1].Dataset != "orders" {
		t.Errorf("replayed %+v, want prod (its reason intact) and dev/orders", got)
	}
	if got := ReplayOverrides(events, t0.Add(3*time.Hour)); len(got) != 0 {
		t.Errorf("at the expiry: %+v, want none", got)
	}
	long := prod
	long.Reason = strings.Repeat("<\u0001", MaxOverrideReasonLength/2)
	if d := OverrideAuditDetail(long); len(d) > 4096 {
		t.Errorf("the audit detail of a reason of the longest length is %d bytes, more than the audit entry keeps (4096)", len(d))
	}
}

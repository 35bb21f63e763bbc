package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/restorable/restorable/internal/billing"
)

// analyze import billing writes a bill's lines once, counts the others by
// reason, and attributes with a configured source's rules.
func TestImportBilling(t *testing.T) {
	root := t.TempDir()
	cfg := root + "/restorable.yml"
	writeFile(t, cfg, `environments:
  prod: {rpo: 1h}
sources:
  - name: bills
    type: billing
    billing:
      path: /nonexistent
      attribution:
        buckets: {acme-prod-backups: {env: prod, dataset: payments}}
history: {root: `+root+`}
`)
	code, out, errs := runIn(t, "--config.file", cfg, "import", "billing", "--source", "bills", "--format", "json",
		"../../internal/billing/testdata/messy-focus.csv", "../../internal/billing/testdata/aws-cur-legacy-sample.csv")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep struct{ Imports []billing.Import }
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	messy, cur := rep.Imports[0], rep.Imports[1]
	if messy.Rows != 14 || messy.Written != 2 || messy.OutOfScope != 1 || messy.RejectedTotal() != 11 || messy.Rejected[billing.RejectBadTags] != 2 {
		t.Errorf("messy bill: %+v", messy)
	}
	if cur.Format != billing.FormatCUR || cur.Written != 799 || cur.OutOfScope != 482 {
		t.Errorf("CUR sample: %+v", cur)
	}
	code, out, _ = runIn(t, "--history", root, "sql", "SELECT env, dataset, source FROM cost_lines WHERE resource = 'acme-prod-backups'")
	if code != exitOK || !strings.Contains(out, "prod") || !strings.Contains(out, "payments") || !strings.Contains(out, "bills") {
		t.Errorf("attribution: %d %s", code, out)
	}
	// Again: nothing new, every kept line already held; the table says
	// so and names the reasons of the rejected lines.
	code, out, _ = runIn(t, "--config.file", cfg, "import", "billing", "../../internal/billing/testdata/messy-focus.csv")
	if code != exitOK || !strings.Contains(out, "2 rejected: tags are not a JSON object") || !strings.Contains(squeeze(out), "focus1402111") {
		t.Errorf("re-import:\n%s", out)
	}
}

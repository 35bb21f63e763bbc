package billing

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the rule table of docs/billing.md")

const (
	docPath    = "../../docs/billing.md"
	rulesBegin = "<!-- rules: generated from internal/billing.Rules by go test ./internal/billing -run TestRulesDocumented -update -->\n"
	rulesEnd   = "<!-- end of rules -->\n"
)

// rulesMarkdown is the rule table as docs/billing.md shows it.
func rulesMarkdown() string {
	var b strings.Builder
	b.WriteString("| # | provider | services | subcategory | usage | unit | category | storage class |\n|---:|---|---|---|---|---|---|---|\n")
	cell := func(s string) string {
		if s == "" {
			return ""
		}
		return "`" + s + "`"
	}
	for i, r := range Rules {
		services := make([]string, len(r.Services))
		for j, s := range r.Services {
			services[j] = cell(s)
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s |\n", i+1, cell(r.Provider), strings.Join(services, ", "),
			cell(r.Subcategory), cell(r.Usage), cell(r.Unit), r.Category, r.StorageClass)
	}
	return b.String()
}

// docs/billing.md lists the rules the code applies, in their order.
func TestRulesDocumented(t *testing.T) {
	data, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	before, rest, ok := strings.Cut(doc, rulesBegin)
	_, after, ok2 := strings.Cut(rest, rulesEnd)
	if !ok || !ok2 {
		t.Fatalf("%s has no generated rule table", docPath)
	}
	want := before + rulesBegin + rulesMarkdown() + rulesEnd + after
	if *update {
		if err := os.WriteFile(docPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if doc != want {
		t.Errorf("the rule table of %s differs from Rules: go test ./internal/billing -run TestRulesDocumented -update", docPath)
	}
}

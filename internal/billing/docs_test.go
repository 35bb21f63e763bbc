package billing

import (
	"flag"
	"fmt"
	"os"
	"regexp"
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

// docs/billing.md names every reason a row is rejected for, the line
// reasons in the order they are checked, and no other: they are the label
// values of restorable_billing_rejected_rows.
func TestRejectReasonsDocumented(t *testing.T) {
	data, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "## Messy input, and rejected lines\n")
	section, _, ok2 := strings.Cut(section, "\n## ")
	if !ok || !ok2 {
		t.Fatalf("%s has no section on rejected lines", docPath)
	}
	_, list, ok := strings.Cut(section, "The reasons, checked in this order")
	list, columns, ok2 := strings.Cut(list, "A CSV row with another number of fields")
	if !ok || !ok2 {
		t.Fatalf("the section on rejected lines does not list the reasons in order, then the CSV row's")
	}
	quoted := regexp.MustCompile("`([^`]+)`")
	var got []string
	for _, m := range quoted.FindAllStringSubmatch(list, -1) {
		got = append(got, m[1])
	}
	if m := quoted.FindStringSubmatch(columns); m != nil {
		got = append([]string{m[1]}, got...)
	}
	if strings.Join(got, "|") != strings.Join(RejectReasons, "|") {
		t.Errorf("%s lists the reasons\n%q\nthe code has\n%q", docPath, got, RejectReasons)
	}
}

// docs/billing.md quotes the two patterns that decide which lines count
// requests and what their operation is, as the code has them.
func TestRequestPatternsDocumented(t *testing.T) {
	data, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "## Request counts from the bills\n")
	section, _, ok2 := strings.Cut(section, "\n## ")
	if !ok || !ok2 {
		t.Fatalf("%s has no section on request counts", docPath)
	}
	section = strings.Join(strings.Fields(section), " ")
	for _, p := range []string{RequestUnitPattern, RequestOperationPattern} {
		if !strings.Contains(section, "`"+p+"`") {
			t.Errorf("%s does not quote the pattern `%s`", docPath, p)
		}
	}
}

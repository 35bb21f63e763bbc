package billing

import (
	"fmt"
	"slices"
	"strings"
)

// Column is a column of the relation a bill is read from in DuckDB, as
// DESCRIBE names it.
type Column struct {
	Name string
	Type string
}

// Status values of SelectSQL's status column besides the reject reasons.
const (
	StatusOK         = "ok"
	StatusOutOfScope = "out of scope"
)

// OutputColumns are the columns SelectSQL returns besides status and dt:
// those of the history's cost_lines table, but collected_at.
var OutputColumns = []string{
	"source", "format", "line_id", "period_start", "period_end", "provider", "account", "region",
	"service", "resource", "category", "storage_class", "usage_type", "quantity", "unit",
	"billed_cost", "effective_cost", "list_cost", "currency", "tags", "env", "dataset",
}

// SelectSQL returns a query that reads every row of from (read_csv of a
// bill with every column as text, or read_parquet), whose columns are
// cols, and normalises it the way the Go parser does: the same rules
// (RuleSQL), the same columns per field, the same checks in the same
// order, the same LineID and attribution. Each row gets a status (ok, out
// of scope, or the reason it is rejected), dt (the first day of the UTC
// month of its period start: the history's partition) and OutputColumns.
// It returns the bill's format.
func SelectSQL(format string, cols []Column, from string, opts Options) (string, string, error) {
	names := make([]string, len(cols))
	types := map[string]string{}
	for i, c := range cols {
		names[i] = c.Name
		types[c.Name] = strings.ToUpper(c.Type)
	}
	format, err := checkFormat(format, names)
	if err != nil {
		return "", "", err
	}
	isMap := func(name string) bool { return strings.HasPrefix(types[name], "MAP(") }
	// raw is the text of one column, NULL when empty or the NULL literal.
	raw := func(c string) string {
		if m, k, ok := strings.Cut(c, "."); ok && isMap(m) {
			return fmt.Sprintf("nullif(nullif(CAST(element_at(%s, %s)[1] AS VARCHAR), ''), %s)", SQLIdent(m), SQLString(k), SQLString(nullLiteral))
		}
		if _, ok := types[c]; !ok {
			return ""
		}
		v := SQLIdent(c)
		if types[c] != "VARCHAR" {
			v = "CAST(" + v + " AS VARCHAR)"
		}
		return fmt.Sprintf("nullif(nullif(%s, ''), %s)", v, SQLString(nullLiteral))
	}
	spec := columns[format]
	text := func(f field) string {
		var parts []string
		for _, c := range spec[f] {
			if v, ok := strings.CutPrefix(c, constPrefix); ok {
				parts = append(parts, SQLString(v))
				continue
			}
			if r := raw(c); r != "" {
				parts = append(parts, r)
			}
		}
		switch len(parts) {
		case 0:
			return "NULL::VARCHAR"
		case 1:
			return parts[0]
		}
		return "coalesce(" + strings.Join(parts, ", ") + ")"
	}
	for _, f := range []field{fStart, fEnd, fBilled, fCurrency} {
		if text(f) == "NULL::VARCHAR" {
			return "", "", fmt.Errorf("%s bill without a %s column", format, strings.Join(spec[f], " or "))
		}
	}

	// Layer 1: the text of each field, and the rule.
	fieldNames := map[field]string{
		fProvider: "t_provider", fService: "t_service", fSubcategory: "t_subcategory", fUsage: "t_usage",
		fUnit: "t_unit", fAccount: "t_account", fRegion: "t_region", fZone: "t_zone", fResource: "t_resource",
		fStart: "t_start", fEnd: "t_end", fQuantity: "t_quantity", fBilled: "t_billed", fEffective: "t_effective",
		fList: "t_list", fCurrency: "t_currency", fTags: "t_tags", fLineType: "t_linetype",
		fLineItemID: "t_lineitem", fInterval: "t_interval", fRIEffective: "t_ri", fSPEffective: "t_sp",
	}
	var l1 []string
	for f := range nFields {
		l1 = append(l1, text(f)+" AS "+fieldNames[f])
	}
	if format == FormatFOCUS {
		for i, c := range focusHashColumns {
			r := raw(c)
			if r == "" {
				r = "NULL::VARCHAR"
			}
			l1 = append(l1, fmt.Sprintf("%s AS h_%d", r, i))
		}
	}
	// Tags, as JSON text and by key.
	tagsJSON, tag := "NULL::VARCHAR", func(string) string { return "NULL::VARCHAR" }
	switch format {
	case FormatFOCUS:
		tagsJSON = "t_tags"
		// json_extract_string fails on text that is not JSON, even where
		// the row is rejected for it: CASE evaluates it on valid text only.
		tag = func(k string) string {
			return fmt.Sprintf("CASE WHEN json_valid(t_tags) THEN json_extract_string(t_tags, %s) END", SQLString(`$."`+k+`"`))
		}
		if isMap("Tags") {
			tagsJSON = `nullif(to_json("Tags")::VARCHAR, '{}')`
			tag = func(k string) string { return fmt.Sprintf(`element_at("Tags", %s)[1]`, SQLString(k)) }
		}
	case FormatCUR:
		var entries []string
		for _, c := range names {
			if k, ok := strings.CutPrefix(c, curTagPrefix); ok && k != "" {
				entries = append(entries, fmt.Sprintf("{'k': %s, 'v': %s}", SQLString(k), raw(c)))
				l1 = append(l1, fmt.Sprintf("%s AS %s", raw(c), SQLIdent("tag/"+k)))
			}
		}
		if len(entries) > 0 {
			tagsJSON = fmt.Sprintf("nullif(to_json(map_from_entries(list_filter([%s], e -> e.v IS NOT NULL)))::VARCHAR, '{}')", strings.Join(entries, ", "))
		}
		tag = func(k string) string {
			if slices.Contains(names, curTagPrefix+k) {
				return SQLIdent("tag/" + k)
			}
			return "NULL::VARCHAR"
		}
	case FormatCUR2:
		if isMap(cur2TagMap) {
			l1 = append(l1, SQLIdent(cur2TagMap)+" AS m_tags")
			tagsJSON = "CASE WHEN cardinality(m_tags) > 0 THEN to_json(map_from_entries(list_filter(map_entries(m_tags), e -> e.value IS NOT NULL AND e.value <> '')))::VARCHAR END"
			tagsJSON = "nullif(" + tagsJSON + ", '{}')"
			tag = func(k string) string { return fmt.Sprintf("element_at(m_tags, %s)[1]", SQLString(k)) }
		}
	}
	// Layer 1b: the key, lower-case and never NULL, and the rule.
	lk := []string{"*"}
	for _, f := range []string{"provider", "service", "subcategory", "usage", "unit"} {
		lk = append(lk, fmt.Sprintf("lower(coalesce(t_%s, '')) AS k_%s", f, f))
	}
	rule := RuleSQL(Rules, Key{Provider: "k_provider", Service: "k_service", Subcategory: "k_subcategory", Usage: "k_usage", Unit: "k_unit"})

	// Layer 2: parsed values.
	num := func(t string) string { return fmt.Sprintf("try_cast(trim(%s) AS DOUBLE)", t) }
	effective := "CASE WHEN t_linetype = 'DiscountedUsage' AND t_ri IS NOT NULL THEN t_ri WHEN t_linetype = 'SavingsPlanCoveredUsage' AND t_sp IS NOT NULL THEN t_sp ELSE coalesce(t_effective, t_billed) END"
	l2 := []string{
		"*",
		rule + " AS rule",
		"try_cast(trim(t_start) AS TIMESTAMPTZ) AS v_start",
		"try_cast(trim(t_end) AS TIMESTAMPTZ) AS v_end",
		num("t_billed") + " AS v_billed",
		num("t_quantity") + " AS v_quantity",
		effective + " AS t_eff",
		num(effective) + " AS v_effective",
		num("t_list") + " AS v_list",
	}
	bad := func(t, v string) string {
		return fmt.Sprintf("(%s IS NOT NULL AND (%s IS NULL OR NOT isfinite(%s)))", t, v, v)
	}
	var status strings.Builder
	status.WriteString("CASE WHEN rule IS NULL THEN " + SQLString(StatusOutOfScope))
	when := func(cond, reason string) { fmt.Fprintf(&status, " WHEN %s THEN %s", cond, SQLString(reason)) }
	if format != FormatFOCUS {
		when("t_lineitem IS NULL", RejectNoLineID)
	}
	when("t_start IS NULL", RejectNoStart)
	when("v_start IS NULL", RejectBadStart)
	when("t_end IS NULL", RejectNoEnd)
	when("v_end IS NULL", RejectBadEnd)
	when("v_end < v_start", RejectEndsEarly)
	when("t_billed IS NULL", RejectNoBilled)
	when("v_billed IS NULL OR NOT isfinite(v_billed)", RejectBadBilled)
	when(bad("t_quantity", "v_quantity"), RejectBadQuantity)
	when(bad("t_eff", "v_effective"), RejectBadEffective)
	when(bad("t_list", "v_list"), RejectBadList)
	when("t_currency IS NULL", RejectNoCurrency)
	if format == FormatFOCUS && !isMap("Tags") {
		when("t_tags IS NOT NULL AND coalesce(CASE WHEN json_valid(t_tags) THEN json_type(t_tags) END, '') <> 'OBJECT'", RejectBadTags)
	}
	status.WriteString(" ELSE " + SQLString(StatusOK) + " END")

	// Layer 3: the output.
	lineID := "t_lineitem || '@' || coalesce(t_interval, '')"
	if format == FormatFOCUS {
		parts := make([]string, 0, len(focusHashColumns)+2)
		for i := range focusHashColumns {
			parts = append(parts, fmt.Sprintf("coalesce(h_%d, '')", i))
		}
		parts = append(parts, "CAST(epoch_us(v_start) AS VARCHAR)", "CAST(epoch_us(v_end) AS VARCHAR)")
		lineID = "'focus:' || md5(concat_ws(chr(31), " + strings.Join(parts, ", ") + "))"
	}
	resource := "CASE WHEN NOT starts_with(lower(t_resource), 'arn:') THEN t_resource " +
		"WHEN contains(t_resource, ':s3:::') THEN split_part(split_part(t_resource, ':s3:::', 2), '/', 1) " +
		"WHEN contains(t_resource, ':backup-vault:') THEN split_part(t_resource, ':backup-vault:', 2) ELSE t_resource END"
	units := make([]string, len(monthUnits))
	for i, u := range monthUnits {
		units[i] = SQLString(strings.ToLower(u))
	}
	unit := fmt.Sprintf("CASE WHEN lower(t_unit) IN (%s) THEN %s ELSE t_unit END", strings.Join(units, ", "), SQLString(UnitGBMonth))
	region := fmt.Sprintf("coalesce(t_region, CASE WHEN regexp_full_match(t_zone, %s) THEN left(t_zone, length(t_zone) - 1) END)", SQLString(zonePattern))
	env, dataset := attributionSQL(opts.Attribution, "resource", tag)
	l3 := []string{
		"status",
		"CAST(date_trunc('month', v_start) AS DATE) AS dt",
		"nullif(" + SQLString(opts.Source) + ", '') AS source",
		SQLString(format) + " AS format",
		lineID + " AS line_id",
		"v_start AS period_start",
		"v_end AS period_end",
		"t_provider AS provider",
		"t_account AS account",
		region + " AS region",
		"t_service AS service",
		"resource",
		RuleListSQL(Rules, "category") + "[rule] AS category",
		"nullif(" + RuleListSQL(Rules, "class") + "[rule], '') AS storage_class",
		"t_usage AS usage_type",
		"coalesce(v_quantity, 0) AS quantity",
		unit + " AS unit",
		"v_billed AS billed_cost",
		"v_effective AS effective_cost",
		"coalesce(v_list, 0) AS list_cost",
		"t_currency AS currency",
		tagsJSON + " AS tags",
		env + " AS env",
		dataset + " AS dataset",
	}
	q := fmt.Sprintf("SELECT %s FROM (SELECT *, %s AS status, %s AS resource FROM (SELECT %s FROM (SELECT %s FROM (SELECT %s FROM %s))))",
		strings.Join(l3, ", "), status.String(), resource, strings.Join(l2, ", "), strings.Join(lk, ", "), strings.Join(l1, ", "), from)
	return q, format, nil
}

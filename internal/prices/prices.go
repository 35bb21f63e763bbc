// Package prices holds the one price table both programs use: the
// analyzer's tiering advice prices storage classes with it, and the
// exporter prices S3 requests (from a store's request metrics) and its own
// API requests with it. Prices change, so they are dated, sourced data a
// user can replace with a file of their own (analyze --prices FILE, the
// exporter's prices_file), never constants in code.
package prices

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// defaultTable is the table used when no file replaces it.
//
//go:embed prices.yml
var defaultTable []byte

// Table is what storage and requests cost, dated and sourced.
type Table struct {
	Date          string            `yaml:"date" json:"date"`
	Source        string            `yaml:"source" json:"source"`
	Currency      string            `yaml:"currency" json:"currency"`
	StandardClass string            `yaml:"standard_class" json:"standard_class"`
	Classes       map[string]*Class `yaml:"classes" json:"classes"`
	// API prices API requests by operation, named as the exporter counts
	// them ("<service id> <operation>", such as "S3 ListObjectsV2"): what
	// the exporter's own calls cost. An operation that is not listed has
	// an unknown price.
	API map[string]*APIPrice `yaml:"api,omitempty" json:"api,omitempty"`
}

// Class is the price of one storage class.
type Class struct {
	StorageGBMonth float64 `yaml:"storage_gb_month" json:"storage_gb_month"`
	// MinStorageDays is the least time an object is billed for; deleting
	// or moving it sooner costs the rest (the early-delete fee).
	MinStorageDays float64 `yaml:"min_storage_days" json:"min_storage_days"`
	// MinObjectBytes is the least size an object is billed as.
	MinObjectBytes float64 `yaml:"min_object_bytes" json:"min_object_bytes"`
	// TransitionPer1000 is the price of 1,000 lifecycle transitions into
	// the class.
	TransitionPer1000 float64 `yaml:"transition_per_1000" json:"transition_per_1000"`
	// OverheadBytes are billed per object at the class's rate, and
	// OverheadStandardBytes at the standard class's rate.
	OverheadBytes         float64 `yaml:"overhead_bytes" json:"overhead_bytes"`
	OverheadStandardBytes float64 `yaml:"overhead_standard_bytes" json:"overhead_standard_bytes"`
	// RestoreHours is how long a restore waits before the first byte.
	RestoreHours float64 `yaml:"restore_hours" json:"restore_hours"`
	// Tier1Per1000 is the price of 1,000 PUT, COPY, POST or LIST requests
	// on objects of the class, Tier2Per1000 of 1,000 GET, SELECT, HEAD and
	// all other requests; nil when the table does not say (the cost is
	// then unknown). DELETE requests are free.
	Tier1Per1000 *float64 `yaml:"tier1_per_1000,omitempty" json:"tier1_per_1000,omitempty"`
	Tier2Per1000 *float64 `yaml:"tier2_per_1000,omitempty" json:"tier2_per_1000,omitempty"`
}

// APIPrice is the price of one API operation.
type APIPrice struct {
	// Per1000 is the price of 1,000 units.
	Per1000 float64 `yaml:"per_1000" json:"per_1000"`
	// Unit is what is billed: "request" (the default) or "metric" (an
	// operation billed per metric each request asks for, such as
	// CloudWatch GetMetricData).
	Unit string `yaml:"unit,omitempty" json:"unit,omitempty"`
}

// The units an API price may be given in.
const (
	UnitRequest = "request"
	UnitMetric  = "metric"
)

// Default returns the built-in table.
func Default() *Table {
	t, err := Parse(defaultTable)
	if err != nil {
		// The embedded table is tested; a broken one is a build defect.
		panic(fmt.Sprintf("built-in price table: %v", err))
	}
	return t
}

// Load reads the table of path, or the built-in table when path is empty.
func Load(path string) (*Table, error) {
	if path == "" {
		return Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read prices: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse decodes a price table (YAML, or JSON, which YAML includes)
// strictly: an unknown key is a typo, not something to ignore.
func Parse(data []byte) (*Table, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var p Table
	if err := dec.Decode(&p); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	switch {
	case p.Date == "":
		return nil, errors.New("date: required (when the prices were taken)")
	case p.Source == "":
		return nil, errors.New("source: required (where the prices come from)")
	case len(p.Classes) == 0:
		return nil, errors.New("classes: at least one storage class is required")
	}
	if p.Currency == "" {
		p.Currency = "USD"
	}
	if p.StandardClass == "" {
		p.StandardClass = "STANDARD"
	}
	for name, c := range p.Classes {
		if c == nil {
			return nil, fmt.Errorf("classes.%s: empty", name)
		}
		fields := map[string]float64{
			"storage_gb_month": c.StorageGBMonth, "min_storage_days": c.MinStorageDays, "min_object_bytes": c.MinObjectBytes,
			"transition_per_1000": c.TransitionPer1000, "overhead_bytes": c.OverheadBytes,
			"overhead_standard_bytes": c.OverheadStandardBytes, "restore_hours": c.RestoreHours,
		}
		if c.Tier1Per1000 != nil {
			fields["tier1_per_1000"] = *c.Tier1Per1000
		}
		if c.Tier2Per1000 != nil {
			fields["tier2_per_1000"] = *c.Tier2Per1000
		}
		for field, v := range fields {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("classes.%s.%s: must be a number that is not negative", name, field)
			}
		}
	}
	if _, ok := p.Classes[p.StandardClass]; !ok {
		return nil, fmt.Errorf("standard_class: %q is not in classes", p.StandardClass)
	}
	for op, a := range p.API {
		if a == nil {
			return nil, fmt.Errorf("api.%s: empty", op)
		}
		if a.Per1000 < 0 || math.IsNaN(a.Per1000) || math.IsInf(a.Per1000, 0) {
			return nil, fmt.Errorf("api.%s.per_1000: must be a number that is not negative", op)
		}
		switch a.Unit {
		case "":
			a.Unit = UnitRequest
		case UnitRequest, UnitMetric:
		default:
			return nil, fmt.Errorf("api.%s.unit: %q is not %s or %s", op, a.Unit, UnitRequest, UnitMetric)
		}
	}
	return &p, nil
}

// Class returns the price of a storage class, matched without regard to
// case, and the name the table gives it.
func (p *Table) Class(name string) (string, *Class) {
	for n, c := range p.Classes {
		if strings.EqualFold(n, name) {
			return n, c
		}
	}
	return "", nil
}

// S3 request operations as S3's request metrics name them (CloudWatch
// namespace AWS/S3).
const (
	OpAllRequests    = "AllRequests"
	OpGetRequests    = "GetRequests"
	OpPutRequests    = "PutRequests"
	OpDeleteRequests = "DeleteRequests"
	OpHeadRequests   = "HeadRequests"
	OpPostRequests   = "PostRequests"
	OpSelectRequests = "SelectRequests"
	OpListRequests   = "ListRequests"
)

// RequestCost is the cost of count S3 requests of the operation op (an S3
// request metric name such as GetRequests) on objects of the storage class
// (the standard class when empty). known is false when the table does not
// price them: the class or its tier is missing, or op mixes tiers
// (AllRequests) or is not an S3 request metric.
//
// S3 bills PUT, COPY, POST and LIST requests at the class's tier-1 price,
// GET, SELECT, HEAD and others at its tier-2 price, and DELETE requests
// not at all (Amazon S3 pricing, Requests & data retrievals).
func (p *Table) RequestCost(class, op string, count float64) (cost float64, known bool) {
	if class == "" {
		class = p.StandardClass
	}
	_, c := p.Class(class)
	if c == nil {
		return 0, false
	}
	var per1000 *float64
	switch op {
	case OpPutRequests, OpPostRequests, OpListRequests:
		per1000 = c.Tier1Per1000
	case OpGetRequests, OpHeadRequests, OpSelectRequests:
		per1000 = c.Tier2Per1000
	case OpDeleteRequests:
		return 0, true
	default:
		return 0, false
	}
	if per1000 == nil {
		return 0, false
	}
	return count / 1000 * *per1000, true
}

// CallCost is the cost of calls requests of an API operation (the label
// the exporter counts it under) when each request asks for unitsPerCall
// units of what the operation is billed by (metrics for a price in
// metrics; ignored for a price per request). known is false when the
// table does not price the operation.
func (p *Table) CallCost(operation string, calls int, unitsPerCall float64) (cost float64, known bool) {
	a := p.API[operation]
	if a == nil {
		return 0, false
	}
	units := float64(calls)
	if a.Unit == UnitMetric {
		units *= unitsPerCall
	}
	return units / 1000 * a.Per1000, true
}

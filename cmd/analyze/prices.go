package main

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// defaultPrices is the price table used without --prices.
//
//go:embed prices.yml
var defaultPrices []byte

// priceTable is what storage costs, dated and sourced: prices change, so
// they are data a user can replace, never constants.
type priceTable struct {
	Date          string                 `yaml:"date" json:"date"`
	Source        string                 `yaml:"source" json:"source"`
	Currency      string                 `yaml:"currency" json:"currency"`
	StandardClass string                 `yaml:"standard_class" json:"standard_class"`
	Classes       map[string]*classPrice `yaml:"classes" json:"classes"`
}

// classPrice is the price of one storage class.
type classPrice struct {
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
}

// loadPrices reads the table of path, or the default table when path is
// empty.
func loadPrices(path string) (*priceTable, error) {
	data, name := defaultPrices, "default price table"
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("read prices: %w", err)
		}
		name = path
	}
	p, err := parsePrices(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// parsePrices decodes a price table (YAML, or JSON, which YAML includes)
// strictly: an unknown key is a typo, not something to ignore.
func parsePrices(data []byte) (*priceTable, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var p priceTable
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
		for field, v := range map[string]float64{
			"storage_gb_month": c.StorageGBMonth, "min_storage_days": c.MinStorageDays, "min_object_bytes": c.MinObjectBytes,
			"transition_per_1000": c.TransitionPer1000, "overhead_bytes": c.OverheadBytes,
			"overhead_standard_bytes": c.OverheadStandardBytes, "restore_hours": c.RestoreHours,
		} {
			if v < 0 {
				return nil, fmt.Errorf("classes.%s.%s: must not be negative", name, field)
			}
		}
	}
	if _, ok := p.Classes[p.StandardClass]; !ok {
		return nil, fmt.Errorf("standard_class: %q is not in classes", p.StandardClass)
	}
	return &p, nil
}

// class returns the price of a storage class, matched without regard to
// case.
func (p *priceTable) class(name string) (string, *classPrice) {
	for n, c := range p.Classes {
		if strings.EqualFold(n, name) {
			return n, c
		}
	}
	return "", nil
}

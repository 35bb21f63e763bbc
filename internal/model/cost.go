package model

import (
	"slices"
	"time"
)

// CostCategory groups cost lines by what they pay for.
type CostCategory string

// The cost categories.
const (
	CostStorage     CostCategory = "storage"
	CostRequests    CostCategory = "requests"
	CostRetrieval   CostCategory = "retrieval"
	CostEarlyDelete CostCategory = "early_delete"
	CostTransition  CostCategory = "transition"
	CostTransfer    CostCategory = "transfer"
	CostOther       CostCategory = "other"
)

// CostCategories lists every valid CostCategory in a stable order.
var CostCategories = []CostCategory{CostStorage, CostRequests, CostRetrieval, CostEarlyDelete, CostTransition, CostTransfer, CostOther}

// Valid reports whether c is one of CostCategories.
func (c CostCategory) Valid() bool { return slices.Contains(CostCategories, c) }

// CostLine is one line of a bill (FOCUS, AWS CUR, Cost Explorer),
// normalised. Money is in Currency; zero costs are real zeros (a line is
// kept only when its costs were read).
type CostLine struct {
	// Source is the configured billing source (or "import" for analyze
	// import billing); Format the bill's format (focus, cur, cur2,
	// costexplorer).
	Source string `json:"source"`
	Format string `json:"format"`
	// LineID identifies the line within its bill, so a re-import adds no
	// duplicate.
	LineID string `json:"line_id"`

	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`

	Provider string `json:"provider"`
	Account  string `json:"account,omitempty"`
	Region   string `json:"region,omitempty"`
	Service  string `json:"service"`
	// Resource is the bucket or vault (or other resource id) when present.
	Resource     string       `json:"resource,omitempty"`
	Category     CostCategory `json:"category"`
	StorageClass string       `json:"storage_class,omitempty"`
	// UsageType is the provider's own name of the usage
	// (USW2-TimedStorage-GlacierByteHrs, a meter name, a FOCUS SKU).
	UsageType string  `json:"usage_type,omitempty"`
	Quantity  float64 `json:"quantity"`
	Unit      string  `json:"unit,omitempty"`

	BilledCost    float64 `json:"billed_cost"`
	EffectiveCost float64 `json:"effective_cost"`
	ListCost      float64 `json:"list_cost"`
	Currency      string  `json:"currency"`

	Tags map[string]string `json:"tags,omitempty"`

	// Env and Dataset are the attribution through the configuration's
	// bucket/vault mappings and tags; empty when unattributed.
	Env     string `json:"env,omitempty"`
	Dataset string `json:"dataset,omitempty"`
}

// RequestCount is a number of API requests against a store over a period:
// from the store's request metrics (CloudWatch), from a bill's request
// lines, or counted by the exporter itself.
type RequestCount struct {
	// Origin is cloudwatch, bill or exporter.
	Origin string `json:"origin"`
	// Source is the configured source the count belongs to.
	Source    string `json:"source"`
	Env       string `json:"env,omitempty"`
	Dataset   string `json:"dataset,omitempty"`
	Resource  string `json:"resource,omitempty"`
	Operation string `json:"operation"`

	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	Count       float64   `json:"count"`
	// Cost is the cost of the requests, from the bill or estimated from
	// the price table (CostEstimated); CostKnown is false when neither
	// prices them.
	Cost          float64 `json:"cost,omitempty"`
	Currency      string  `json:"currency,omitempty"`
	CostKnown     bool    `json:"cost_known,omitempty"`
	CostEstimated bool    `json:"cost_estimated,omitempty"`
}

// BillRows counts what reading bills did with their rows. Every row read
// is kept (a CostLine), out of scope or rejected, so Kept + OutOfScope +
// the rejected sum to Rows. internal/billing fills it (billing.Stats is
// this type); a billing source's catalog carries the sum over its files.
type BillRows struct {
	Rows int `json:"rows"`
	Kept int `json:"kept"`
	// OutOfScope are lines of services no rule maps (compute, databases,
	// ...): not storage or backup costs.
	OutOfScope int `json:"out_of_scope"`
	// Rejected counts the lines of storage and backup services that could
	// not be read, by reason.
	Rejected map[string]int `json:"rejected,omitempty"`
}

// RejectedTotal is the number of rejected lines.
func (s *BillRows) RejectedTotal() int {
	n := 0
	for _, v := range s.Rejected {
		n += v
	}
	return n
}

// Add adds the counts of o to s.
func (s *BillRows) Add(o BillRows) {
	s.Rows += o.Rows
	s.Kept += o.Kept
	s.OutOfScope += o.OutOfScope
	for r, n := range o.Rejected {
		if s.Rejected == nil {
			s.Rejected = map[string]int{}
		}
		s.Rejected[r] += n
	}
}

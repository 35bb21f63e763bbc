package billing

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/restorable/restorable/internal/model"
)

// The reasons a line of a storage or backup service is rejected, checked
// in this order (the first that applies is counted).
const (
	RejectNoLineID     = "missing line item id"
	RejectNoStart      = "missing period start"
	RejectBadStart     = "bad period start"
	RejectNoEnd        = "missing period end"
	RejectBadEnd       = "bad period end"
	RejectEndsEarly    = "period ends before it starts"
	RejectNoBilled     = "missing billed cost"
	RejectBadBilled    = "bad billed cost"
	RejectBadQuantity  = "bad quantity"
	RejectBadEffective = "bad effective cost"
	RejectBadList      = "bad list cost"
	RejectNoCurrency   = "missing currency"
	RejectBadTags      = "tags are not a JSON object"
)

// RejectReasons lists every reason a row is rejected for, in the order
// they are checked: the number of columns of a CSV row first
// (RejectColumns), then the fields of a line of a storage or backup
// service.
var RejectReasons = []string{
	RejectColumns, RejectNoLineID, RejectNoStart, RejectBadStart, RejectNoEnd, RejectBadEnd, RejectEndsEarly,
	RejectNoBilled, RejectBadBilled, RejectBadQuantity, RejectBadEffective, RejectBadList,
	RejectNoCurrency, RejectBadTags,
}

// nullLiteral is how many exports write an empty value.
const nullLiteral = "NULL"

// Stats counts what reading a bill did with its lines: rows read, kept,
// out of scope and rejected by reason. It is the model's type, so that a
// billing source's catalog carries these counts to the metrics as they are.
type Stats = model.BillRows

// plan is how the lines of one bill are read: the columns of each field.
type plan struct {
	format string
	cols   [nFields][]int
	consts [nFields]string
	// tagCols are the legacy CUR resourceTags/ columns and tagKeys their
	// keys.
	tagCols []int
	tagKeys []string
	// hashCols are the FOCUS columns of the line id digest, -1 when absent.
	hashCols []int
	// width is the number of columns of the header.
	width int
	// matched are the rules keys matched: a bill has few distinct keys,
	// and matching one against every rule costs microseconds.
	matched map[Key]int
	// times remember the last period start and end read: the lines of a
	// bill share a few periods.
	times [2]lastTime
}

// lastTime is ParseTime with a memory of the last text it read.
type lastTime struct {
	text string
	t    time.Time
	ok   bool
}

func (c *lastTime) parse(s string) (time.Time, bool) {
	if s != c.text || c.text == "" {
		c.t, c.ok = ParseTime(s)
		c.text = strings.Clone(s)
	}
	return c.t, c.ok
}

// clone returns a plan of its own for another goroutine.
func (p *plan) clone() *plan {
	c := *p
	c.matched = nil
	c.times = [2]lastTime{}
	return &c
}

// maxMatched bounds the memo of rule matches.
const maxMatched = 1 << 14

func newPlan(format string, header []string) (*plan, error) {
	format, err := checkFormat(format, header)
	if err != nil {
		return nil, err
	}
	idx := make(map[string]int, len(header))
	for i, c := range header {
		if _, dup := idx[c]; !dup {
			idx[c] = i
		}
	}
	p := &plan{format: format, width: len(header)}
	spec := columns[format]
	for f := range nFields {
		for _, c := range spec[f] {
			if v, ok := strings.CutPrefix(c, constPrefix); ok {
				p.consts[f] = v
				continue
			}
			if i, ok := idx[c]; ok {
				p.cols[f] = append(p.cols[f], i)
			}
		}
	}
	for _, f := range []field{fStart, fEnd, fBilled, fCurrency} {
		if len(p.cols[f]) == 0 && p.consts[f] == "" {
			return nil, fmt.Errorf("%s bill without a %s column", format, strings.Join(spec[f], " or "))
		}
	}
	if format == FormatCUR {
		for i, c := range header {
			if k, ok := strings.CutPrefix(c, curTagPrefix); ok && k != "" {
				p.tagCols = append(p.tagCols, i)
				p.tagKeys = append(p.tagKeys, k)
			}
		}
	}
	if format == FormatFOCUS {
		for _, c := range focusHashColumns {
			i, ok := idx[c]
			if !ok {
				i = -1
			}
			p.hashCols = append(p.hashCols, i)
		}
	}
	return p, nil
}

func clean(s string) string {
	if s == nullLiteral {
		return ""
	}
	return s
}

// get returns the first non-empty value of a field.
func (p *plan) get(row []string, f field) string {
	for _, i := range p.cols[f] {
		if i < len(row) {
			if v := clean(row[i]); v != "" {
				return v
			}
		}
	}
	return p.consts[f]
}

// outcome is what becomes of one line: kept (reason ""), out of scope, or
// rejected for reason.
type outcome struct {
	outOfScope bool
	reason     string
}

// line normalises one row. mapTags are the tags of a CUR 2.0 map column,
// nil for other formats.
func (p *plan) line(row []string, mapTags map[string]string) (model.CostLine, outcome) {
	k := Key{
		Provider: p.get(row, fProvider), Service: p.get(row, fService), Subcategory: p.get(row, fSubcategory),
		Usage: p.get(row, fUsage), Unit: p.get(row, fUnit),
	}
	ri, ok := p.matched[k]
	if !ok {
		ri = Match(Rules, k)
		if p.matched == nil || len(p.matched) >= maxMatched {
			p.matched = map[Key]int{}
		}
		k.Provider, k.Service, k.Subcategory = strings.Clone(k.Provider), strings.Clone(k.Service), strings.Clone(k.Subcategory)
		k.Usage, k.Unit = strings.Clone(k.Usage), strings.Clone(k.Unit)
		p.matched[k] = ri
	}
	if ri < 0 {
		return model.CostLine{}, outcome{outOfScope: true}
	}
	rule := &Rules[ri]
	l := model.CostLine{
		Format: p.format, Provider: k.Provider, Service: k.Service, UsageType: k.Usage,
		Category: rule.Category, StorageClass: rule.StorageClass,
		Account: p.get(row, fAccount), Region: region(p.get(row, fRegion), p.get(row, fZone)),
		Resource: ResourceName(p.get(row, fResource)), Unit: NormaliseUnit(k.Unit),
		Currency: p.get(row, fCurrency),
	}
	reject := func(r string) (model.CostLine, outcome) { return model.CostLine{}, outcome{reason: r} }
	if p.format != FormatFOCUS {
		id := p.get(row, fLineItemID)
		if id == "" {
			return reject(RejectNoLineID)
		}
		l.LineID = id + "@" + p.get(row, fInterval)
	}
	if l.PeriodStart, ok = p.times[0].parse(p.get(row, fStart)); !ok {
		return reject(pick(p.get(row, fStart), RejectNoStart, RejectBadStart))
	}
	if l.PeriodEnd, ok = p.times[1].parse(p.get(row, fEnd)); !ok {
		return reject(pick(p.get(row, fEnd), RejectNoEnd, RejectBadEnd))
	}
	if l.PeriodEnd.Before(l.PeriodStart) {
		return reject(RejectEndsEarly)
	}
	billed := p.get(row, fBilled)
	if l.BilledCost, ok = ParseNumber(billed); !ok || billed == "" {
		return reject(pick(billed, RejectNoBilled, RejectBadBilled))
	}
	if l.Quantity, ok = ParseNumber(p.get(row, fQuantity)); !ok {
		return reject(RejectBadQuantity)
	}
	effective := p.get(row, fEffective)
	switch lt := p.get(row, fLineType); {
	case lt == "DiscountedUsage" && p.get(row, fRIEffective) != "":
		effective = p.get(row, fRIEffective)
	case lt == "SavingsPlanCoveredUsage" && p.get(row, fSPEffective) != "":
		effective = p.get(row, fSPEffective)
	}
	// A bill without an effective cost (the legacy CUR outside
	// reservations and savings plans) was charged what it billed.
	if effective == "" {
		effective = billed
	}
	if l.EffectiveCost, ok = ParseNumber(effective); !ok {
		return reject(RejectBadEffective)
	}
	if l.ListCost, ok = ParseNumber(p.get(row, fList)); !ok {
		return reject(RejectBadList)
	}
	if l.Currency == "" {
		return reject(RejectNoCurrency)
	}
	switch {
	case p.format == FormatFOCUS:
		tags, ok := parseJSONTags(p.get(row, fTags))
		if !ok {
			return reject(RejectBadTags)
		}
		if tags == nil && len(mapTags) > 0 {
			tags = mapTags
		}
		l.Tags = tags
		l.LineID = p.focusID(row, l.PeriodStart, l.PeriodEnd)
	case len(p.tagCols) > 0:
		for j, i := range p.tagCols {
			if i < len(row) {
				if v := clean(row[i]); v != "" {
					if l.Tags == nil {
						l.Tags = map[string]string{}
					}
					l.Tags[p.tagKeys[j]] = v
				}
			}
		}
	case len(mapTags) > 0:
		l.Tags = mapTags
	}
	return l, outcome{}
}

func pick(v, missing, bad string) string {
	if v == "" {
		return missing
	}
	return bad
}

// focusID is the LineID of a FOCUS line: "focus:" and the MD5 digest of
// focusHashColumns and the charge period in microseconds, separated by
// the unit separator (0x1f).
func (p *plan) focusID(row []string, start, end time.Time) string {
	parts := make([]string, 0, len(p.hashCols)+2)
	for _, i := range p.hashCols {
		v := ""
		if i >= 0 && i < len(row) {
			v = clean(row[i])
		}
		parts = append(parts, v)
	}
	parts = append(parts, strconv.FormatInt(start.UnixMicro(), 10), strconv.FormatInt(end.UnixMicro(), 10))
	sum := md5.Sum([]byte(strings.Join(parts, "\x1f")))
	return "focus:" + hex.EncodeToString(sum[:])
}

// timeLayouts are the timestamps bills write: RFC 3339 (CUR), and the
// same without T and zone (FOCUS exports), read as UTC.
var timeLayouts = []string{
	time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999", time.DateOnly,
}

// ParseTime reads a bill's timestamp; false when s is empty or no known
// layout fits.
func ParseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// ParseNumber reads an amount; an empty value is 0. Infinities and NaN
// are not amounts.
func ParseNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, true
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

// parseJSONTags reads a FOCUS Tags object; values that are not strings
// keep their JSON text. Empty is no tags.
func parseJSONTags(s string) (map[string]string, bool) {
	if strings.TrimSpace(s) == "" {
		return nil, true
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil || raw == nil {
		return nil, false
	}
	if len(raw) == 0 {
		return nil, true
	}
	tags := make(map[string]string, len(raw))
	for k, v := range raw {
		var str string
		if err := json.Unmarshal(v, &str); err == nil {
			tags[k] = str
			continue
		}
		if string(v) == "null" {
			continue
		}
		tags[k] = string(v)
	}
	return tags, true
}

// zonePattern is an availability zone that names its region
// (us-east-1a); Azure writes zone numbers, which name none.
const zonePattern = `^[a-z]+(-[a-z]+)+-[0-9]+[a-z]$`

var zoneRE = regexp.MustCompile(zonePattern)

// region is the line's region, or the region of its availability zone.
func region(r, zone string) string {
	if r != "" {
		return r
	}
	if zoneRE.MatchString(zone) {
		return zone[:len(zone)-1]
	}
	return ""
}

// ResourceName returns the bucket of an S3 ARN (arn:aws:s3:::bucket/key)
// and the vault of an AWS Backup vault ARN; other resource ids unchanged.
// Attribution matches bucket and vault names.
func ResourceName(id string) string {
	if !strings.HasPrefix(strings.ToLower(id), "arn:") {
		return id
	}
	if _, rest, ok := strings.Cut(id, ":s3:::"); ok {
		bucket, _, _ := strings.Cut(rest, "/")
		return bucket
	}
	if _, rest, ok := strings.Cut(id, ":backup-vault:"); ok {
		return rest
	}
	return id
}

// monthUnits are the spellings of a gigabyte-month, normalised to
// UnitGBMonth so that cost per GB-month adds up across bills.
var monthUnits = []string{"GB-Mo", "GB-Month", "GB-Months", "GB/Month", "GB Months", "GB Month", "GiB-Mo", "GiB Months", "gibibyte month"}

// UnitGBMonth is the unit of stored volume over time.
const UnitGBMonth = "GB-Mo"

// NormaliseUnit writes the units of stored volume one way.
func NormaliseUnit(u string) string {
	if slices.ContainsFunc(monthUnits, func(m string) bool { return strings.EqualFold(m, u) }) {
		return UnitGBMonth
	}
	return u
}

package billing

import (
	"fmt"
	"slices"
	"strings"

	"github.com/restorable/restorable/internal/config"
)

// The bill formats.
const (
	FormatAuto  = "auto"
	FormatFOCUS = "focus"
	FormatCUR   = "cur"
	FormatCUR2  = "cur2"
)

// Formats lists the formats a bill can be read as (auto detects): the
// configuration's billing.format accepts the same.
var Formats = config.BillingFormats

// field is one value a cost line is made of.
type field int

const (
	fProvider field = iota
	fService
	fSubcategory
	fUsage
	fUnit
	fAccount
	fRegion
	fZone
	fResource
	fStart
	fEnd
	fQuantity
	fBilled
	fEffective
	fList
	fCurrency
	fTags
	fLineType
	fLineItemID
	fInterval
	fRIEffective
	fSPEffective
	nFields
)

// constPrefix marks a constant instead of a column name.
const constPrefix = "="

// columns lists, for each format and field, the columns the field is read
// from: the first that the bill has and that is not empty on the line
// wins. A
// column "product.region" is the key region of the map column product.
var columns = map[string][nFields][]string{
	FormatFOCUS: {
		// FOCUS 1.2 names the provider ServiceProviderName and keeps
		// ProviderName as deprecated.
		fProvider:    {"ServiceProviderName", "ProviderName"},
		fService:     {"x_ServiceCode", "ServiceName"},
		fSubcategory: {"ServiceSubcategory"},
		fUsage:       {"x_UsageType", "SkuMeter", "ChargeDescription"},
		fUnit:        {"ConsumedUnit", "PricingUnit"},
		fAccount:     {"SubAccountId", "BillingAccountId"},
		fRegion:      {"RegionId"},
		fZone:        {"AvailabilityZone"},
		fResource:    {"ResourceId", "ResourceName"},
		fStart:       {"ChargePeriodStart"},
		fEnd:         {"ChargePeriodEnd"},
		fQuantity:    {"ConsumedQuantity", "PricingQuantity"},
		fBilled:      {"BilledCost"},
		fEffective:   {"EffectiveCost"},
		fList:        {"ListCost"},
		fCurrency:    {"BillingCurrency"},
		fTags:        {"Tags"},
		fLineType:    {"ChargeCategory"},
	},
	FormatCUR: {
		fProvider:    {constPrefix + "AWS"},
		fService:     {"lineItem/ProductCode"},
		fUsage:       {"lineItem/UsageType"},
		fUnit:        {"pricing/unit"},
		fAccount:     {"lineItem/UsageAccountId"},
		fRegion:      {"product/regionCode", "product/region"},
		fZone:        {"lineItem/AvailabilityZone"},
		fResource:    {"lineItem/ResourceId"},
		fStart:       {"lineItem/UsageStartDate"},
		fEnd:         {"lineItem/UsageEndDate"},
		fQuantity:    {"lineItem/UsageAmount"},
		fBilled:      {"lineItem/UnblendedCost"},
		fList:        {"pricing/publicOnDemandCost"},
		fCurrency:    {"lineItem/CurrencyCode"},
		fLineType:    {"lineItem/LineItemType"},
		fLineItemID:  {"identity/LineItemId"},
		fInterval:    {"identity/TimeInterval"},
		fRIEffective: {"reservation/EffectiveCost"},
		fSPEffective: {"savingsPlan/SavingsPlanEffectiveCost"},
	},
	FormatCUR2: {
		fProvider:    {constPrefix + "AWS"},
		fService:     {"line_item_product_code"},
		fUsage:       {"line_item_usage_type"},
		fUnit:        {"pricing_unit"},
		fAccount:     {"line_item_usage_account_id"},
		fRegion:      {"product_region_code", "product.region", "product.regionCode"},
		fZone:        {"line_item_availability_zone"},
		fResource:    {"line_item_resource_id"},
		fStart:       {"line_item_usage_start_date"},
		fEnd:         {"line_item_usage_end_date"},
		fQuantity:    {"line_item_usage_amount"},
		fBilled:      {"line_item_unblended_cost"},
		fList:        {"pricing_public_on_demand_cost"},
		fCurrency:    {"line_item_currency_code"},
		fLineType:    {"line_item_line_item_type"},
		fLineItemID:  {"identity_line_item_id"},
		fInterval:    {"identity_time_interval"},
		fRIEffective: {"reservation_effective_cost"},
		fSPEffective: {"savings_plan_savings_plan_effective_cost"},
	},
}

// Tag columns: FOCUS has a JSON object, the legacy CUR a column per tag,
// CUR 2.0 a map.
const (
	curTagPrefix = "resourceTags/"
	cur2TagMap   = "resource_tags"
	cur2Product  = "product"
)

// focusHashColumns identify a FOCUS line, which has no line id of its own:
// its LineID is a digest of these columns' text (absent ones empty) and of
// its charge period. Costs and quantities are left out, so a corrected
// amount replaces nothing and is a line of its own.
var focusHashColumns = []string{
	"Id", "BillingAccountId", "SubAccountId", "ChargeCategory", "ChargeClass", "ChargeDescription",
	"ChargeFrequency", "CommitmentDiscountId", "PricingCategory", "ProviderName", "ServiceProviderName",
	"RegionId", "ResourceId", "ServiceName", "SkuId", "SkuPriceId", "ConsumedUnit", "PricingUnit", "x_UsageType",
}

// DetectFormat names the format of a bill from its column names.
func DetectFormat(cols []string) (string, error) {
	has := func(c string) bool { return slices.Contains(cols, c) }
	switch {
	case has("lineItem/UsageType") || has("lineItem/UnblendedCost"):
		return FormatCUR, nil
	case has("line_item_usage_type") || has("line_item_unblended_cost"):
		return FormatCUR2, nil
	case has("BilledCost") && has("ChargePeriodStart"):
		return FormatFOCUS, nil
	}
	return "", fmt.Errorf("not a FOCUS, CUR or CUR 2.0 bill: no BilledCost and ChargePeriodStart, lineItem/UsageType or line_item_usage_type column among %d columns", len(cols))
}

// checkFormat returns the format of a bill with cols, as format says it
// is (auto: as its columns say), or an error when its columns do not fit.
func checkFormat(format string, cols []string) (string, error) {
	detected, err := DetectFormat(cols)
	if format == "" || format == FormatAuto {
		return detected, err
	}
	if _, ok := columns[format]; !ok {
		return "", fmt.Errorf("unknown bill format %q: one of %s", format, strings.Join(Formats, ", "))
	}
	if err != nil {
		return "", err
	}
	if detected != format {
		return "", fmt.Errorf("the columns are those of a %s bill, not %s", detected, format)
	}
	return format, nil
}

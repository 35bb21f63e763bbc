// Package billing turns bills into model.CostLine records: FOCUS 1.0–1.2
// (CSV or Parquet, any provider), the legacy AWS Cost and Usage Report
// (CSV, lineItem/... headers) and CUR 2.0 (Parquet, snake_case columns,
// product as a map).
//
// Which lines are kept and what they pay for is decided by one table of
// data, Rules, which the parsers (of the CGO-free exporter's billing
// sources and of analyze import billing alike) match a line against with
// Match. docs/billing.md lists the table.
package billing

import (
	"strings"

	"github.com/restorable/restorable/internal/model"
)

// Rule is one row of the mapping table. Each pattern is a SQL ILIKE
// pattern ('%' any run of characters, '_' any one character, no escape,
// case ignored) and an empty pattern matches anything. Services lists
// alternatives: the line's service must match one of them. A line takes
// the Category and StorageClass of the first rule it matches; a line no
// rule matches is out of scope (not a storage or backup cost) and is
// counted, not kept.
type Rule struct {
	Provider    string
	Services    []string
	Subcategory string
	// Usage matches the provider's name of the usage: the CUR usage type
	// (USW2-TimedStorage-GlacierByteHrs); in FOCUS x_UsageType when the
	// export has it, else SkuMeter, else ChargeDescription.
	Usage        string
	Unit         string
	Category     model.CostCategory
	StorageClass string
}

// The services of the rules. Product codes are what CUR and Cost Explorer
// name; FOCUS names services in words (ServiceName).
var (
	s3Services = []string{
		"AmazonS3", "Amazon Simple Storage Service",
		"AmazonS3GlacierDeepArchive", "Amazon S3 Glacier Deep Archive",
		"AmazonGlacier", "Amazon Glacier", "Amazon S3 Glacier",
	}
	awsBackupServices   = []string{"AWSBackup", "AWS Backup"}
	azureBlobServices   = []string{"Storage", "Storage Accounts", "Azure Blob Storage"}
	azureBackupServices = []string{"Backup", "Azure Backup"}
	gcsServices         = []string{"Cloud Storage"}
	// monthUnit matches the units of stored volume over time: GB-Mo (CUR),
	// GB-Months (AWS FOCUS), GB/Month (Azure), GB Months (Oracle),
	// gibibyte month (Google).
	monthUnit = "%Mo%"
)

func s3(usage string, c model.CostCategory, class string) Rule {
	return Rule{Services: s3Services, Usage: usage, Category: c, StorageClass: class}
}

func s3Month(usage string, class string) Rule {
	return Rule{Services: s3Services, Usage: usage, Unit: monthUnit, Category: model.CostStorage, StorageClass: class}
}

func azureBlob(usage string, c model.CostCategory, class string) Rule {
	return Rule{Provider: "Microsoft%", Services: azureBlobServices, Usage: usage, Category: c, StorageClass: class}
}

func awsBackup(usage string, c model.CostCategory, class string) Rule {
	return Rule{Services: awsBackupServices, Usage: usage, Category: c, StorageClass: class}
}

func gcs(usage, unit string, c model.CostCategory, class string) Rule {
	return Rule{Provider: "Google%", Services: gcsServices, Usage: usage, Unit: unit, Category: c, StorageClass: class}
}

// Rules is the mapping table, first match wins. S3 usage types carry a
// region prefix (USW2-, CAN1-, none for us-east-1), hence the leading '%'.
// Requests-Tier1 is also an SNS and SQS usage type: every rule names its
// services, so those lines never match.
var Rules = []Rule{
	// S3 and Glacier: early deletes first, as their unit is a GB-month too.
	s3("%EarlyDelete-ByteHrs", model.CostEarlyDelete, "GLACIER"),
	s3("%EarlyDelete-SIA%", model.CostEarlyDelete, "STANDARD_IA"),
	s3("%EarlyDelete-ZIA%", model.CostEarlyDelete, "ONEZONE_IA"),
	s3("%EarlyDelete-GIR%", model.CostEarlyDelete, "GLACIER_IR"),
	s3("%EarlyDelete-GDA%", model.CostEarlyDelete, "DEEP_ARCHIVE"),
	s3("%EarlyDelete%", model.CostEarlyDelete, ""),
	s3("%early delete%", model.CostEarlyDelete, ""),
	s3("%TimedStorage-ByteHrs", model.CostStorage, "STANDARD"),
	s3("%TimedStorage-SIA-%", model.CostStorage, "STANDARD_IA"),
	s3("%TimedStorage-ZIA-%", model.CostStorage, "ONEZONE_IA"),
	s3("%TimedStorage-GIR-%", model.CostStorage, "GLACIER_IR"),
	s3("%TimedStorage-Glacier%", model.CostStorage, "GLACIER"),
	s3("%TimedStorage-GDA-%", model.CostStorage, "DEEP_ARCHIVE"),
	s3("%TimedStorage-INT%", model.CostStorage, "INTELLIGENT_TIERING"),
	s3("%TimedStorage-RRS%", model.CostStorage, "REDUCED_REDUNDANCY"),
	s3("%TimedStorage%", model.CostStorage, ""),
	// FOCUS exports without x_UsageType describe storage in words.
	s3Month("%Deep Archive%", "DEEP_ARCHIVE"),
	s3Month("%Glacier Instant Retrieval%", "GLACIER_IR"),
	s3Month("%Glacier%", "GLACIER"),
	s3Month("%One Zone%", "ONEZONE_IA"),
	s3Month("%Infrequent Access%", "STANDARD_IA"),
	s3Month("%Intelligent-Tiering%", "INTELLIGENT_TIERING"),
	s3Month("%storage used%", "STANDARD"),
	s3Month("%", ""),
	// Lifecycle transitions: Tier3 are PUT, COPY, POST and transitions
	// into Glacier Flexible Retrieval; GDA-Tier1 into Deep Archive.
	s3("%Requests-Tier3", model.CostTransition, "GLACIER"),
	s3("%Requests-GDA-Tier1", model.CostTransition, "DEEP_ARCHIVE"),
	s3("%Requests-Tier1", model.CostRequests, "STANDARD"),
	s3("%Requests-Tier2", model.CostRequests, "STANDARD"),
	s3("%Requests-SIA-%", model.CostRequests, "STANDARD_IA"),
	s3("%Requests-ZIA-%", model.CostRequests, "ONEZONE_IA"),
	s3("%Requests-GIR-%", model.CostRequests, "GLACIER_IR"),
	s3("%Requests-GDA-%", model.CostRequests, "DEEP_ARCHIVE"),
	s3("%Requests-INT-%", model.CostRequests, "INTELLIGENT_TIERING"),
	s3("%Requests%", model.CostRequests, ""),
	s3("%Retrieval%GDA%", model.CostRetrieval, "DEEP_ARCHIVE"),
	s3("%Retrieval-SIA%", model.CostRetrieval, "STANDARD_IA"),
	s3("%Retrieval-ZIA%", model.CostRetrieval, "ONEZONE_IA"),
	s3("%Retrieval-GIR%", model.CostRetrieval, "GLACIER_IR"),
	s3("%Retrieval-Bytes%", model.CostRetrieval, "GLACIER"),
	s3("%Retrieval%", model.CostRetrieval, ""),
	s3("%DataTransfer%", model.CostTransfer, ""),
	s3("%data transfer%", model.CostTransfer, ""),
	s3("%-AWS-In-%", model.CostTransfer, ""),
	s3("%-AWS-Out-%", model.CostTransfer, ""),
	s3("%Monitoring-Automation%", model.CostOther, "INTELLIGENT_TIERING"),
	s3("%", model.CostOther, ""),

	// AWS Backup: warm and cold storage of recovery points, restores.
	awsBackup("%EarlyDelete%", model.CostEarlyDelete, ""),
	awsBackup("%WarmStorage%", model.CostStorage, "WARM"),
	awsBackup("%ColdStorage%", model.CostStorage, "COLD"),
	awsBackup("%Restore%", model.CostRetrieval, ""),
	awsBackup("%DataTransfer%", model.CostTransfer, ""),
	awsBackup("%CrossRegion%", model.CostTransfer, ""),
	{Services: awsBackupServices, Unit: monthUnit, Category: model.CostStorage},
	awsBackup("%", model.CostOther, ""),

	// Azure Blob Storage meters: "Tiered Block Blob - Hot LRS - Data
	// Stored", "... - Write Operations", "... Early Delete". Tables, Files,
	// Queues and Defender meters of a storage account are out of scope.
	azureBlob("%Blob%Early Delete%", model.CostEarlyDelete, ""),
	azureBlob("%Blob%Archive%Data Stored%", model.CostStorage, "ARCHIVE"),
	azureBlob("%Blob%Cold%Data Stored%", model.CostStorage, "COLD"),
	azureBlob("%Blob%Cool%Data Stored%", model.CostStorage, "COOL"),
	azureBlob("%Blob%Hot%Data Stored%", model.CostStorage, "HOT"),
	azureBlob("%Blob%Premium%Data Stored%", model.CostStorage, "PREMIUM"),
	azureBlob("%Blob%Data Stored%", model.CostStorage, ""),
	azureBlob("%Blob%Operations%", model.CostRequests, ""),
	azureBlob("%Blob%Retrieval%", model.CostRetrieval, ""),
	azureBlob("%Blob%Transfer%", model.CostTransfer, ""),
	azureBlob("%Blob%", model.CostOther, ""),
	{Provider: "Microsoft%", Services: azureBackupServices, Unit: monthUnit, Category: model.CostStorage},
	{Provider: "Microsoft%", Services: azureBackupServices, Category: model.CostOther},

	// Google Cloud Storage.
	gcs("%Early Delet%", "", model.CostEarlyDelete, ""),
	gcs("%Archive%", monthUnit, model.CostStorage, "ARCHIVE"),
	gcs("%Coldline%", monthUnit, model.CostStorage, "COLDLINE"),
	gcs("%Nearline%", monthUnit, model.CostStorage, "NEARLINE"),
	gcs("%Standard%", monthUnit, model.CostStorage, "STANDARD"),
	gcs("%", monthUnit, model.CostStorage, ""),
	gcs("%Operation%", "", model.CostRequests, ""),
	gcs("%Retrieval%", "", model.CostRetrieval, ""),
	gcs("%", "", model.CostOther, ""),

	// Any other provider's object storage and backup services, as FOCUS
	// 1.1 and later name their subcategory.
	{Subcategory: "Object Storage", Unit: monthUnit, Category: model.CostStorage},
	{Subcategory: "Object Storage", Category: model.CostOther},
	{Subcategory: "Backup", Unit: monthUnit, Category: model.CostStorage},
	{Subcategory: "Backup", Category: model.CostOther},
}

// Key is what a rule is matched against.
type Key struct {
	Provider, Service, Subcategory, Usage, Unit string
}

// Match returns the index in rules of the first rule k matches, or -1.
func Match(rules []Rule, k Key) int {
	for i := range rules {
		if rules[i].matches(k) {
			return i
		}
	}
	return -1
}

func (r *Rule) matches(k Key) bool {
	if !ilike(k.Provider, r.Provider) || !ilike(k.Subcategory, r.Subcategory) || !ilike(k.Usage, r.Usage) || !ilike(k.Unit, r.Unit) {
		return false
	}
	if len(r.Services) == 0 {
		return true
	}
	for _, s := range r.Services {
		if ilike(k.Service, s) {
			return true
		}
	}
	return false
}

// ilike reports whether s matches the SQL ILIKE pattern p (no escape
// character), as DuckDB decides it for ASCII text: case is ignored, '%'
// matches any run of characters and '_' any one. An empty pattern matches
// anything, as an absent condition.
func ilike(s, p string) bool {
	if p == "" {
		return true
	}
	return like(strings.ToLower(s), strings.ToLower(p))
}

// like matches with backtracking on the last '%' only, which is enough
// for LIKE's semantics and linear in practice.
func like(s, p string) bool {
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '_' || p[pi] == s[si]) && p[pi] != '%':
			si++
			pi++
		case pi < len(p) && p[pi] == '%':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '%' {
		pi++
	}
	return pi == len(p)
}

// SQLString makes s a SQL string literal.
func SQLString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// SQLIdent makes s a quoted SQL identifier.
func SQLIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

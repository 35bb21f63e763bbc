package costexplorer

import (
	"strings"

	"github.com/restorable/restorable/internal/model"
)

// regionPrefixes map the region code that prefixes an AWS usage type to
// the region; a usage type without one is us-east-1's.
var regionPrefixes = map[string]string{
	"USE1": "us-east-1", "USE2": "us-east-2", "USW1": "us-west-1", "USW2": "us-west-2",
	"CAN1": "ca-central-1", "SAE1": "sa-east-1", "AFS1": "af-south-1", "MES1": "me-south-1",
	"EU": "eu-west-1", "EUW2": "eu-west-2", "EUW3": "eu-west-3", "EUC1": "eu-central-1",
	"EUN1": "eu-north-1", "EUS1": "eu-south-1",
	"APN1": "ap-northeast-1", "APN2": "ap-northeast-2", "APN3": "ap-northeast-3",
	"APS1": "ap-southeast-1", "APS2": "ap-southeast-2", "APS3": "ap-south-1", "APE1": "ap-east-1",
}

// classCodes map the storage class codes of S3 and AWS Backup usage types
// to storage class names.
var classCodes = map[string]string{
	"SIA": "STANDARD_IA", "ZIA": "ONEZONE_IA", "GIR": "GLACIER_IR", "GDA": "DEEP_ARCHIVE",
	"Glacier": "GLACIER", "GLACIER": "GLACIER", "RRS": "REDUCED_REDUNDANCY", "INT": "INTELLIGENT_TIERING",
	"WarmStorage": "WARM", "ColdStorage": "COLD",
}

// Classify maps an AWS usage type (USW2-TimedStorage-GlacierByteHrs,
// Requests-Tier1, EarlyDelete-SIA, USE1-WarmStorage-ByteHrs-EFS) to a cost
// category, a storage class (empty when the usage type names none and is
// not S3 Standard's) and a region.
//
// merge: use internal/billing's mapping table
func Classify(usageType string) (category model.CostCategory, storageClass, region string) {
	rest := usageType
	region = "us-east-1"
	if p, r, ok := strings.Cut(usageType, "-"); ok {
		if reg, known := regionPrefixes[p]; known {
			region, rest = reg, r
		}
	}
	parts := strings.Split(rest, "-")
	class := ""
	for _, p := range parts[1:] {
		if c := classOf(p); c != "" {
			class = c
		}
	}
	head := parts[0]
	switch {
	case head == "EarlyDelete":
		// EarlyDelete-ByteHrs is S3 Glacier Flexible Retrieval's.
		return model.CostEarlyDelete, orClass(class, "GLACIER"), region
	case head == "TimedStorage":
		return model.CostStorage, orClass(class, "STANDARD"), region
	case head == "Requests":
		if strings.HasSuffix(rest, "Tier3") || strings.HasSuffix(rest, "Tier4") {
			// Tier 3 and 4 are lifecycle transitions (into archive
			// classes, and into the IA classes).
			return model.CostTransition, class, region
		}
		return model.CostRequests, orClass(class, "STANDARD"), region
	case head == "Retrieval" || head == "Restore":
		return model.CostRetrieval, class, region
	case head == "WarmStorage" || head == "ColdStorage":
		return model.CostStorage, classCodes[head], region
	case head == "DataTransfer" || head == "CloudFront" || strings.HasSuffix(rest, "-Out-Bytes") || strings.HasSuffix(rest, "-In-Bytes"):
		return model.CostTransfer, "", region
	}
	// An inter-region transfer names two regions: USE1-EUC1-AWS-Out-Bytes.
	if _, known := regionPrefixes[head]; known {
		return model.CostTransfer, "", region
	}
	return model.CostOther, class, region
}

// longCodes are the class codes that may lead a part of a usage type
// (GlacierByteHrs, GlacierStaging); the short ones (SIA, GDA) are whole
// parts.
var longCodes = []string{"Glacier", "GLACIER", "WarmStorage", "ColdStorage"}

// classOf is the storage class a part of a usage type names, or "".
func classOf(part string) string {
	if c, ok := classCodes[part]; ok {
		return c
	}
	for _, code := range longCodes {
		if strings.HasPrefix(part, code) {
			return classCodes[code]
		}
	}
	return ""
}

func orClass(class, def string) string {
	if class == "" {
		return def
	}
	return class
}

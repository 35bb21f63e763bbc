package costexplorer

import (
	"strings"

	"github.com/restorable/restorable/internal/billing"
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

// Classify maps a Cost Explorer group (its SERVICE and USAGE_TYPE, such as
// "Amazon Simple Storage Service" and USW2-TimedStorage-GlacierByteHrs) to
// a cost category and a storage class through the one rule table of
// internal/billing, as a bill's lines are mapped, and reads the region from
// the usage type's prefix (none is us-east-1's).
func Classify(service, usageType string) (category model.CostCategory, storageClass, region string) {
	region = "us-east-1"
	if p, _, ok := strings.Cut(usageType, "-"); ok {
		if reg, known := regionPrefixes[p]; known {
			region = reg
		}
	}
	i := billing.Match(billing.Rules, billing.Key{Provider: "AWS", Service: service, Usage: usageType})
	if i < 0 {
		return model.CostOther, "", region
	}
	return billing.Rules[i].Category, billing.Rules[i].StorageClass, region
}

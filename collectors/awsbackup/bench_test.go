package awsbackup

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/runx"
)

// BenchmarkCollect reads a vault of 10,000 recovery points (10 pages of
// 1000) and a page of jobs from a local server and maps them: one
// collection of a large vault.
func BenchmarkCollect(b *testing.B) {
	const n, page = 10_000, 1000
	s := newServer(b)
	var pages [][]byte
	for p := range n / page {
		var rps []map[string]any
		for i := p * page; i < (p+1)*page; i++ {
			rps = append(rps, map[string]any{
				"BackupSizeInBytes": 1 << 30, "BackupVaultName": "prod-payments", "BackupVaultArn": "arn:aws:backup:eu-west-1:" + acct + ":backup-vault:prod-payments",
				"CalculatedLifecycle": map[string]any{"DeleteAt": 1830000000.5, "MoveToColdStorageAt": 1770000000.25},
				"CompletionDate":      1764554400.875 + float64(i), "CreationDate": 1764554000.125 + float64(i),
				"CreatedBy":        map[string]any{"BackupPlanName": "daily", "BackupRuleName": "daily-rule"},
				"EncryptionKeyArn": key, "EncryptionKeyType": "CUSTOMER_MANAGED_KMS_KEY", "IsEncrypted": true,
				"RecoveryPointArn": fmt.Sprintf("arn:aws:rds:eu-west-1:%s:snapshot:awsbackup:job-%06d", acct, i),
				"ResourceArn":      fmt.Sprintf("arn:aws:rds:eu-west-1:%s:db:db-%03d", acct, i%100), "ResourceType": "RDS", "Status": "COMPLETED",
			})
		}
		body := map[string]any{"RecoveryPoints": rps}
		if p+1 < n/page {
			body["NextToken"] = strconv.Itoa(p + 2)
		}
		raw, err := json.Marshal(body)
		if err != nil {
			b.Fatal(err)
		}
		pages = append(pages, raw)
	}
	vaults := `{"BackupVaultList":[{"BackupVaultArn":"arn:aws:backup:eu-west-1:` + acct + `:backup-vault:prod-payments","BackupVaultName":"prod-payments","Locked":true,"LockDate":946684800,"MinRetentionDays":35,"EncryptionKeyType":"CUSTOMER_MANAGED_KMS_KEY","EncryptionKeyArn":"` + key + `","VaultState":"AVAILABLE","VaultType":"BACKUP_VAULT"}]}`
	s.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch path := strings.TrimSuffix(r.URL.Path, "/"); {
		case path == "/backup-vaults":
			_, _ = w.Write([]byte(vaults))
		case strings.HasSuffix(path, "/recovery-points"):
			p, _ := strconv.Atoi(r.URL.Query().Get("nextToken"))
			_, _ = w.Write(pages[max(p, 1)-1])
		default:
			_, _ = w.Write([]byte(`{"BackupJobs":[]}`))
		}
	})
	c := collector(b, s, &config.Source{Env: "prod", AWSBackup: &config.AWSBackupOptions{JobsWindow: config.DefaultAWSBackupJobs}})
	b.ReportAllocs()
	for b.Loop() {
		m := &runx.Meter{}
		cat, err := c.Collect(runx.WithMeter(context.Background(), m))
		if err != nil {
			b.Fatal(err)
		}
		if len(cat.Backups) != n || m.Calls()["Backup "+OpListRecoveryPoints] != n/page {
			b.Fatalf("%d backups, calls %v", len(cat.Backups), m.Calls())
		}
	}
}

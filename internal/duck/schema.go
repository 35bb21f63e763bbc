package duck

import (
	"fmt"
	"strings"
)

// The tables of the history, as the views name them.
const (
	TableBackups      = "backups"
	TableRepositories = "repositories"
	TableProbes       = "probes"
	// TableAudit is the exporter's audit log, one row per entry.
	TableAudit = "audit"
	// TableEvents are the release events the exporter acknowledged.
	TableEvents = "events"
	// TableRequestCounts holds request counts (S3 request metrics, the
	// exporter's own API requests), one row per version of a counted
	// period, and the bills' request counts derived from cost_lines.
	TableRequestCounts = "request_counts"
	// TableCostLines are the lines of bills (docs/billing.md).
	TableCostLines = "cost_lines"
)

// Tables lists the views in the order schema prints them.
func Tables() []string {
	return []string{TableBackups, TableRepositories, TableProbes, TableAudit, TableEvents, TableRequestCounts, TableCostLines}
}

// Column is one column of a history table.
type Column struct {
	Name string
	// Type is the DuckDB type the column reads as.
	Type string
	Doc  string
}

// Columns returns the columns a table has when the history writer wrote
// it. An empty table gets a view of exactly these columns, so queries
// against a new history fail for no reason but an empty result.
func Columns(table string) []Column {
	ts := "TIMESTAMP WITH TIME ZONE"
	switch table {
	case TableBackups:
		return []Column{
			{"source", "VARCHAR", "Configured source that collected the backup."},
			{"env", "VARCHAR", "Environment of the backup (dev, staging, prod, ...)."},
			{"dataset", "VARCHAR", "What the backup protects (database, stanza, application)."},
			{"id", "VARCHAR", "Backup id, unique within its source."},
			{"type", "VARCHAR", "full, diff, incr, snapshot, logical or wal."},
			{"release", "VARCHAR", "Release running when the backup was taken."},
			{"parent", "VARCHAR", "Backup this one depends on (the full of a diff or incr)."},
			{"start_time", ts, "When the backup started."},
			{"end_time", ts, "When it ended (the recovery point)."},
			{"status", "VARCHAR", "succeeded, failed, partial or running."},
			{"error", "VARCHAR", "The source's error message of a failed backup."},
			{"logical_bytes", "BIGINT", "Size of the data backed up."},
			{"stored_bytes", "BIGINT", "Size on storage after deduplication and compression."},
			{"file_count", "BIGINT", "Files in the backup."},
			{"location", "VARCHAR", "Where the backup is stored (bucket, path)."},
			{"storage_class", "VARCHAR", "Storage class (STANDARD, GLACIER, ...)."},
			{"region", "VARCHAR", "Region of the storage."},
			{"encrypted", "BOOLEAN", "The backup is encrypted."},
			{"key_id", "VARCHAR", "KMS key protecting the backup."},
			{"immutable", "BOOLEAN", "Object lock, append-only or vault lock protects the backup."},
			{"retain_until", ts, "End of the lock."},
			{"checksum", "VARCHAR", "<algorithm>:<hex digest> of the backup."},
			{"agent", "VARCHAR", "Program that took the backup."},
			{"agent_version", "VARCHAR", "Its version."},
			{"classification", "VARCHAR", "Data classification (pii, phi, ...)."},
			{"tags", "VARCHAR", "JSON object of the backup's tags."},
			{"paths", "VARCHAR[]", "Top-level paths of a file-level backup."},
			{"lsn_start", "VARCHAR", "First LSN of a physical database backup."},
			{"lsn_stop", "VARCHAR", "Last LSN."},
			{"wal_start", "VARCHAR", "First WAL segment the backup needs."},
			{"wal_stop", "VARCHAR", "Last WAL segment the backup needs."},
			{"delta_bytes", "BIGINT", "Bytes the backup copied before compression (pgBackRest info.delta)."},
			{"restore_bytes", "BIGINT", "Bytes a restore of the backup reads from its repository, references included."},
			{"databases", "VARCHAR[]", "Databases the backup holds (pgBackRest database-ref)."},
			{"expected_interval_seconds", "BIGINT", "How often the schedule that made the backup runs (a Velero Schedule's longest interval between runs); NULL when the source knows no schedule."},
			{"removed", "BOOLEAN", "This row records the backup leaving its source's catalog."},
			{"collected_at", ts, "When this version of the backup was observed."},
			{"content_hash", "BIGINT", "The writer's fingerprint of the row; of no use to analyses."},
			{"dt", "DATE", "Partition: UTC day of collected_at."},
		}
	case TableRepositories:
		return []Column{
			{"source", "VARCHAR", "Configured source."},
			{"env", "VARCHAR", "Environment."},
			{"dataset", "VARCHAR", "Dataset the repository holds, when it holds one."},
			{"name", "VARCHAR", "Repository name (restic repository, pgBackRest stanza, bucket)."},
			{"observed_at", ts, "When this observation was made."},
			{"location", "VARCHAR", "Where the repository is."},
			{"storage_class", "VARCHAR", "Storage class."},
			{"region", "VARCHAR", "Region."},
			{"stored_bytes", "BIGINT", "Bytes on storage."},
			{"logical_bytes", "BIGINT", "Bytes of data represented, before deduplication and compression."},
			{"dedup_ratio", "DOUBLE", "Deduplication ratio as the source reports it."},
			{"compression_ratio", "DOUBLE", "Compression ratio as the source reports it."},
			{"wal_min", "VARCHAR", "Oldest WAL segment archived."},
			{"wal_max", "VARCHAR", "Newest WAL segment archived."},
			{"healthy", "BOOLEAN", "The source reports no problem."},
			{"status_code", "BIGINT", "The source's status code."},
			{"status", "VARCHAR", "The source's status message."},
			{"backup_locked", "BOOLEAN", "A backup held the repository's lock."},
			{"restore_locked", "BOOLEAN", "A restore held the repository."},
			{"has_protection", "BOOLEAN", "The source reads the store's protection facts; a NULL fact is then unknown."},
			{"versioning", "VARCHAR", "Bucket versioning: enabled, suspended or disabled."},
			{"lock_mode", "VARCHAR", "Default lock: COMPLIANCE, GOVERNANCE or none."},
			{"lock_retention_seconds", "BIGINT", "Default lock retention."},
			{"encryption", "VARCHAR", "Default encryption: aws:kms, aws:kms:dsse, AES256 or none."},
			{"kms_key", "VARCHAR", "KMS key of the default encryption."},
			{"lifecycle_known", "BOOLEAN", "The lifecycle rules were read."},
			{"transition_after_seconds", "BIGINT", "Earliest lifecycle transition age."},
			{"transition_class", "VARCHAR", "Storage class of the earliest transition."},
			{"expire_after_seconds", "BIGINT", "Earliest lifecycle expiration age."},
			{"content_hash", "BIGINT", "The writer's fingerprint of the row; of no use to analyses."},
			{"dt", "DATE", "Partition: UTC day of observed_at."},
		}
	case TableProbes:
		return []Column{
			{"run_id", "VARCHAR", "Unique id of the probe run."},
			{"probe", "VARCHAR", "Configured probe name, or the name of a restore test a source reported (aws-backup:SOURCE/PLAN/ENV/DATASET)."},
			{"kind", "VARCHAR", "Probe kind."},
			{"env", "VARCHAR", "Environment."},
			{"dataset", "VARCHAR", "Dataset restored."},
			{"source", "VARCHAR", "Source whose catalog named the backup."},
			{"backup_id", "VARCHAR", "Backup restored."},
			{"release", "VARCHAR", "Release of the backup restored."},
			{"restored_point", ts, "Time of the data brought back."},
			{"start_time", ts, "When the run started."},
			{"duration_seconds", "DOUBLE", "How long the run took."},
			{"success", "BOOLEAN", "The restore was brought back and verified."},
			{"error", "VARCHAR", "Why it failed."},
			{"tables_compared", "BIGINT", "Tables compared with the source."},
			{"tables_mismatched", "VARCHAR[]", "Tables whose contents differed."},
			{"files_verified", "BIGINT", "Files verified."},
			{"bytes_verified", "BIGINT", "Bytes verified."},
			{"details", "VARCHAR", "Kind-specific details."},
			{"rto_target_seconds", "DOUBLE", "The environment's RTO at the time of the run."},
			{"achieved_rpo_seconds", "DOUBLE", "Age of the restored data when the run started."},
			{"collected", "BOOLEAN", "A restore test a source reported (an AWS Backup restore testing plan's job), not a run of a configured probe; NULL in files written before the column existed (false)."},
			{"dt", "DATE", "Partition: UTC day of start_time."},
		}
	case TableAudit:
		return []Column{
			{"seq", "BIGINT", "Sequence number of the entry in the audit log."},
			{"time", ts, "When the entry was written."},
			{"principal", "VARCHAR", "Who asked: a configured principal, anonymous, signal or exporter."},
			{"auth", "VARCHAR", "How the principal was recognised: token, client-cert, basic-auth, none or signal."},
			{"remote", "VARCHAR", "Client address."},
			{"action", "VARCHAR", "What was asked (probe.run, config.reload, gate.override, ...)."},
			{"target", "VARCHAR", "What the action applies to."},
			{"outcome", "VARCHAR", "allowed, ok, failed or denied."},
			{"status", "BIGINT", "HTTP status answered."},
			{"detail", "VARCHAR", "Why it was denied or failed, or what was decided (an override's reason and expiry)."},
			{"dt", "DATE", "Partition: UTC day of time."},
		}
	case TableEvents:
		return []Column{
			{"id", "VARCHAR", "Delivery id or Idempotency-Key; one row per id."},
			{"sender", "VARCHAR", "Adapter that accepted it: generic, gitlab, github, argocd or jenkins."},
			{"kind", "VARCHAR", "deploy, rollback, pre_release_backup, freeze_ack or migration."},
			{"env", "VARCHAR", "Environment."},
			{"dataset", "VARCHAR", "Dataset or service the release concerns."},
			{"release", "VARCHAR", "Release deployed, rolled back to, backed up for or migrated to."},
			{"revision", "VARCHAR", "Source revision (commit) of the release."},
			{"actor", "VARCHAR", "Who triggered it (required on a freeze_ack)."},
			{"result", "VARCHAR", "succeeded, failed, running or canceled."},
			{"time", ts, "When it happened, by the sender's clock."},
			{"received", ts, "When the exporter acknowledged it."},
			{"backup_source", "VARCHAR", "Source of the backup a pre_release_backup took or a rollback restored."},
			{"backup_id", "VARCHAR", "That backup's id."},
			{"migration", "BOOLEAN", "The deploy or rollback ran a schema migration."},
			{"reason", "VARCHAR", "A freeze_ack's reason, or a note."},
			{"url", "VARCHAR", "Pipeline, job or application that sent it."},
			{"dt", "DATE", "Partition: UTC day of received."},
		}
	case TableRequestCounts:
		return []Column{
			{"origin", "VARCHAR", "Where the count comes from: cloudwatch (S3 request metrics), bill (a bill's request lines, derived from cost_lines) or exporter (its own API requests)."},
			{"source", "VARCHAR", "Configured source that reported the count."},
			{"env", "VARCHAR", "Environment."},
			{"dataset", "VARCHAR", "Dataset of the resource."},
			{"resource", "VARCHAR", "Bucket, or bucket/filter (cloudwatch); the bucket the bill's lines name (bill)."},
			{"operation", "VARCHAR", "S3 request metric (cloudwatch: GetRequests, ...); usage type without region prefix (bill: Requests-Tier1, ...); API operation (exporter)."},
			{"period_start", ts, "Start of the period counted."},
			{"period_end", ts, "End of the period counted (exclusive)."},
			{"count", "DOUBLE", "Requests in the period."},
			{"cost", "DOUBLE", "Cost of the requests (billed for bill); NULL when nothing prices them."},
			{"currency", "VARCHAR", "Currency of cost."},
			{"cost_estimated", "BOOLEAN", "The cost is estimated from the price table, not billed."},
			{"collected_at", ts, "When the row was written (bill: when the newest of its lines was collected); the newest row of a period is its current count."},
			{"content_hash", "BIGINT", "Hash of count and cost (the writer's duplicate filter); NULL for bill rows."},
			{"dt", "DATE", "Partition: UTC day of period_start."},
		}
	case TableCostLines:
		return []Column{
			{"source", "VARCHAR", "Configured billing source, or the source analyze import billing was given (import)."},
			{"format", "VARCHAR", "Format of the bill: focus, cur, cur2 or costexplorer."},
			{"line_id", "VARCHAR", "Identity of the line within its bill; the table holds each once."},
			{"period_start", ts, "Start of the period the line charges."},
			{"period_end", ts, "End of that period."},
			{"provider", "VARCHAR", "Cloud provider (AWS, Microsoft, Google, ...)."},
			{"account", "VARCHAR", "Account (AWS usage account, FOCUS sub-account)."},
			{"region", "VARCHAR", "Region of the usage."},
			{"service", "VARCHAR", "Service: a product code (AmazonS3) or a FOCUS service name."},
			{"resource", "VARCHAR", "Bucket or vault, when the bill names one."},
			{"category", "VARCHAR", "storage, requests, retrieval, early_delete, transition, transfer or other."},
			{"storage_class", "VARCHAR", "Storage class the line pays for (STANDARD, GLACIER, HOT, ...)."},
			{"usage_type", "VARCHAR", "The provider's name of the usage (USW2-TimedStorage-GlacierByteHrs, a meter)."},
			{"quantity", "DOUBLE", "Quantity used, in unit."},
			{"unit", "VARCHAR", "Unit of quantity; GB-Mo for every spelling of a gigabyte-month."},
			{"billed_cost", "DOUBLE", "What was invoiced: the spend analyze cost reports."},
			{"effective_cost", "DOUBLE", "Amortised cost after discounts, as the bill gives it."},
			{"list_cost", "DOUBLE", "Cost at public on-demand prices (0 when the bill has none)."},
			{"currency", "VARCHAR", "Currency of the costs."},
			{"tags", "VARCHAR", "JSON object of the line's tags."},
			{"env", "VARCHAR", "Environment the line is attributed to (billing.attribution)."},
			{"dataset", "VARCHAR", "Dataset the line is attributed to."},
			{"collected_at", ts, "When the line was collected or imported."},
			{"dt", "DATE", "Partition: first day of the UTC month of period_start."},
		}
	}
	return nil
}

// emptyView is a view with a table's columns and no rows.
func emptyView(table string) string {
	return fmt.Sprintf("CREATE VIEW %s AS %s", table, emptySelect(table))
}

// emptySelect is a query with a table's columns and no row.
func emptySelect(table string) string {
	cols := Columns(table)
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = fmt.Sprintf("NULL::%s AS %s", c.Type, c.Name)
	}
	return fmt.Sprintf("SELECT %s WHERE false", strings.Join(parts, ", "))
}

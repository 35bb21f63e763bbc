package duck

import (
	"context"
	"fmt"
	"time"

	"github.com/restorable/restorable/internal/policy"
)

// Overrides returns the break-glass gate overrides in force at at, as the
// audit table records them being set and withdrawn (successful
// gate.override and gate.override.withdraw entries up to at). A history
// without audit rows has none.
func (d *DB) Overrides(ctx context.Context, at time.Time) ([]policy.Override, error) {
	if !d.has[TableAudit] {
		return nil, nil
	}
	rows, err := d.Query(ctx, `SELECT action, detail FROM audit
		WHERE action IN ('gate.override', 'gate.override.withdraw') AND outcome = 'ok' AND detail IS NOT NULL AND time <= ?
		ORDER BY time, seq`, at.UTC())
	if err != nil {
		return nil, fmt.Errorf("read gate overrides from the audit table: %w", err)
	}
	defer rows.Close() //nolint:errcheck // read-only query
	var events []policy.OverrideEvent
	for rows.Next() {
		var action, detail string
		if err := rows.Scan(&action, &detail); err != nil {
			return nil, fmt.Errorf("read gate overrides from the audit table: %w", err)
		}
		events = append(events, policy.OverrideEvent{Set: action == "gate.override", Detail: detail})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read gate overrides from the audit table: %w", err)
	}
	return policy.ReplayOverrides(events, at), nil
}

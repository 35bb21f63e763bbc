package alerts

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/restorable/restorable/internal/testutil"
)

const alertmanagerExample = "alertmanager.example.yml"

func TestAlertmanagerExampleConfigIsValid(t *testing.T) {
	amtool := testutil.Program(t, "amtool")
	out, err := exec.Command(amtool, "check-config", alertmanagerExample).CombinedOutput()
	if err != nil {
		t.Fatalf("amtool check-config %s: %v\n%s", alertmanagerExample, err, out)
	}
}

// TestAlertmanagerExampleRoutes has amtool route alerts as the rules label
// them, to show who gets told about what.
func TestAlertmanagerExampleRoutes(t *testing.T) {
	amtool := testutil.Program(t, "amtool")
	tests := []struct {
		name   string
		labels []string
		want   string
	}{
		{
			name:   "prod RPO breach pages and tells the release channel",
			labels: []string{"alertname=RestorableBackupRPOBreached", "severity=critical", "gate=deploy", "env=prod"},
			want:   "release-channel,backup-oncall-pager",
		},
		{
			name:   "staging RPO breach goes to chat and the release channel",
			labels: []string{"alertname=RestorableBackupRPOBreached", "severity=critical", "gate=deploy", "env=staging"},
			want:   "release-channel,backup-team-chat",
		},
		{
			name:   "prod restore failure pages",
			labels: []string{"alertname=RestorableRestoreProbeFailing", "severity=critical", "env=prod"},
			want:   "backup-oncall-pager",
		},
		{
			name:   "prod warning goes to chat and a ticket",
			labels: []string{"alertname=RestorableRTOExceeded", "severity=warning", "env=prod"},
			want:   "backup-team-chat-and-ticket",
		},
		{
			name:   "dev warning opens a ticket",
			labels: []string{"alertname=RestorableBackupFailed", "severity=warning", "gate=deploy", "env=dev"},
			want:   "release-channel,backup-tickets",
		},
		{
			name:   "exporter down pages without an env",
			labels: []string{"alertname=RestorableExporterDown", "severity=critical", "gate=deploy", "job=restorable"},
			want:   "release-channel,backup-oncall-pager",
		},
		{
			name:   "collector failing opens a ticket",
			labels: []string{"alertname=RestorableCollectorFailing", "severity=warning", "source=payments-db"},
			want:   "backup-tickets",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"config", "routes", "test", "--config.file=" + alertmanagerExample}, tc.labels...)
			cmd := exec.Command(amtool, args...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("amtool %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
			}
			if got := strings.TrimSpace(string(out)); got != tc.want {
				t.Errorf("receivers = %s, want %s", got, tc.want)
			}
		})
	}
}

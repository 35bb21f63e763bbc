package buildinfo

import (
	"runtime/debug"
	"testing"

	"github.com/prometheus/common/version"
)

// keepVersion restores the version package's variables after a test.
func keepVersion(t *testing.T) {
	saved := []string{version.Version, version.Revision, version.Branch, version.BuildUser, version.BuildDate}
	t.Cleanup(func() {
		version.Version, version.Revision, version.Branch, version.BuildUser, version.BuildDate = saved[0], saved[1], saved[2], saved[3], saved[4]
	})
}

func TestFill(t *testing.T) {
	checkout := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-12-01T19:00:00Z"},
	}}
	installed := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}
	for _, tc := range []struct {
		name                             string
		info                             *debug.BuildInfo
		ldflags                          [5]string
		version, branch, user, buildDate string
	}{
		{name: "plain go build in a checkout", info: checkout, version: "unknown", branch: "unknown", user: "unknown", buildDate: "unknown (commit time 2026-12-01T19:00:00Z)"},
		{name: "go install of a tag", info: installed, version: "v1.2.3", branch: "unknown", user: "unknown", buildDate: "unknown"},
		{name: "no build information", version: "unknown", branch: "unknown", user: "unknown", buildDate: "unknown"},
		{
			name: "make build keeps what the linker set", info: checkout,
			ldflags: [5]string{"v0.9.0", "feedbee", "main", "ci@runner", "20261201-19:30:00"},
			version: "v0.9.0", branch: "main", user: "ci@runner", buildDate: "20261201-19:30:00",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keepVersion(t)
			version.Version, version.Revision, version.Branch, version.BuildUser, version.BuildDate = tc.ldflags[0], tc.ldflags[1], tc.ldflags[2], tc.ldflags[3], tc.ldflags[4]
			fill(tc.info)
			got := [4]string{version.Version, version.Branch, version.BuildUser, version.BuildDate}
			if want := [4]string{tc.version, tc.branch, tc.user, tc.buildDate}; got != want {
				t.Errorf("version, branch, user, date = %q, want %q", got, want)
			}
			if version.Revision == "" {
				t.Error("empty revision")
			}
		})
	}
}

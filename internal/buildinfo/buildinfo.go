// Package buildinfo completes the build information that
// github.com/prometheus/common/version prints (--version, the landing
// page, the build_info metric) for binaries built without the Makefile's
// -ldflags, such as a plain `go build` or `go install`.
package buildinfo

import (
	"runtime/debug"

	"github.com/prometheus/common/version"
)

// Fill sets every field of the version package that the linker left empty
// from what the Go toolchain recorded in the binary, or to "unknown": a
// blank "build date:" reads like a bug, "unknown" says what is true. The
// version package keeps its build information in variables meant to be
// set once at start-up (by the linker or by this), so main calls Fill
// first, before anything reads them.
func Fill() {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		info = nil
	}
	fill(info)
}

// fill does Fill's work with the build information given, nil when the
// binary has none.
func fill(info *debug.BuildInfo) {
	settings := map[string]string{}
	if info != nil {
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
	}
	if version.Version == "" {
		version.Version = "unknown"
		// The module version is a tag or a pseudo-version for go install
		// of a published module; "(devel)" inside a checkout says nothing.
		if info != nil && info.Main.Version != "" && info.Main.Version != "(devel)" {
			version.Version = info.Main.Version
		}
	}
	if version.Revision == "" {
		// version.GetRevision reads vcs.revision itself; setting it here
		// keeps one answer for Print and for the metric.
		version.Revision = version.GetRevision()
	}
	if version.Branch == "" {
		// The toolchain records no branch.
		version.Branch = "unknown"
	}
	if version.BuildUser == "" {
		version.BuildUser = "unknown"
	}
	if version.BuildDate == "" {
		version.BuildDate = "unknown"
		// The toolchain records when the commit was made, not when the
		// binary was built: say which it is.
		if t := settings["vcs.time"]; t != "" {
			version.BuildDate = "unknown (commit time " + t + ")"
		}
	}
}

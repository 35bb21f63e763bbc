package runx

import (
	"context"
	"testing"
)

// BenchmarkRunFlood measures what a program printing 1.5 GB costs the
// exporter (the case: RSS grew to 4.2 GB): held whole it would be
// bytes/op of several GB; with the output streamed into a tail or stopped
// at the limit it is a few MB. Run with -benchtime 1x.
func BenchmarkRunFlood(b *testing.B) {
	const printed = "1500000000"
	for _, tc := range []struct {
		name string
		cmd  func() Cmd
	}{
		{"tail", func() Cmd {
			return Cmd{Path: "sh", Args: []string{"-c", "head -c " + printed + " /dev/zero"}, Stdout: NewHeadTail(0, 2048)}
		}},
		{"limit-64MiB", func() Cmd {
			return Cmd{Path: "sh", Args: []string{"-c", "head -c " + printed + " /dev/zero"}, MaxStdout: 64 << 20}
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, err := Run(context.Background(), tc.cmd())
				if tc.name == "tail" && err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

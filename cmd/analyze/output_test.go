package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWrapText(t *testing.T) {
	for _, tc := range []struct {
		in    string
		width int
		want  []string
	}{
		{"short", 10, []string{"short"}},
		{"", 10, []string{""}},
		{"no limit at all here", 0, []string{"no limit at all here"}},
		{"wrap at the blanks please", 10, []string{"wrap at", "the blanks", "please"}},
		{"0000000100000000000000F7 ends", 10, []string{"0000000100", "0000000000", "00F7 ends"}},
	} {
		if got := wrapText(tc.in, tc.width); !slices.Equal(got, tc.want) {
			t.Errorf("wrapText(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
}

func TestTableFitsWidth(t *testing.T) {
	long := strings.Repeat("a long sentence that goes on ", 6)
	tab := &table{header: []string{"ID", "TEXT", "MORE"}, wrap: map[int]bool{1: true, 2: true}}
	tab.add("1", long, long)
	tab.add("2", "short", "x")
	for _, width := range []int{40, 80, 120} {
		var b bytes.Buffer
		if err := tab.writeText(&b, false, width); err != nil {
			t.Fatal(err)
		}
		var text []string
		for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
			if n := utf8.RuneCountInString(line); n > width {
				t.Errorf("width %d: line of %d: %q", width, n, line)
			}
			text = append(text, line)
		}
		if got := strings.Join(text, " "); strings.Count(got, "goes on") != 12 {
			t.Errorf("width %d lost text:\n%s", width, b.String())
		}
	}
	// Narrower than the wrapped columns can go, the table keeps them at
	// minWrapWidth rather than cutting every word.
	var b bytes.Buffer
	if err := tab.writeText(&b, false, 10); err != nil {
		t.Fatal(err)
	}
	narrowest := len("ID") + 2 + minWrapWidth + 2 + minWrapWidth
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if n := utf8.RuneCountInString(line); n > narrowest {
			t.Errorf("at width 10, line of %d, want at most %d: %q", n, narrowest, line)
		}
	}
	if !strings.Contains(b.String(), "a long sentence\n") {
		t.Errorf("words cut although the columns could hold them:\n%s", b.String())
	}
}

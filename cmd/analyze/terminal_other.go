//go:build !unix

package main

import "os"

// terminalWidth returns 0 where reading a terminal's size is not
// implemented, so tables take the default width.
func terminalWidth(*os.File) int { return 0 }

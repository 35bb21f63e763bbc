// Command eventscheck compares the keys of acknowledged event deliveries
// (files of one key per line, as test/bench/events.lua writes them) with
// the event journal, and fails when an acknowledged event is missing.
//
//	go run ./test/bench/eventscheck -journal DIR acked-*.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"

	"github.com/restorable/restorable/internal/events"
)

func main() {
	dir := flag.String("journal", "", "directory of the event journal")
	flag.Parse()
	j, evs, torn, err := events.OpenJournal(*dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	_ = j.Close()
	in := make(map[string]bool, len(evs))
	for _, ev := range evs {
		in[ev.ID] = true
	}
	acked, lost := 0, 0
	for _, name := range flag.Args() {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			acked++
			if !in[sc.Text()] {
				lost++
				if lost <= 10 {
					fmt.Printf("lost: %s\n", sc.Text())
				}
			}
		}
		_ = f.Close()
	}
	fmt.Printf("journal records: %d, acknowledged: %d, lost: %d, torn tail at open: %v\n", len(evs), acked, lost, torn != nil)
	if lost > 0 {
		os.Exit(1)
	}
}

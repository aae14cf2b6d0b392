// Package benchio holds what the Go twins of weft's benchmarks share: the
// optional runtime/trace recording (-trace FILE, the counterpart of
// WEFT_TRACE) and the "# peak-rss-kib: N" line that bench/run.sh reads.
package benchio

import (
	"fmt"
	"os"
	"runtime/trace"
	"syscall"
)

// StartTrace records a runtime/trace execution trace into path ("": none)
// and returns what stops it and closes the file. Errors end the program
// with a message naming prog.
func StartTrace(prog, path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = trace.Start(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, prog+":", err)
		os.Exit(1)
	}
	return func() {
		trace.Stop()
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, prog+":", err)
			os.Exit(1)
		}
	}
}

// PrintPeakRSS prints the process's peak resident set size in KiB.
func PrintPeakRSS() {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		fmt.Printf("# peak-rss-kib: %d\n", ru.Maxrss) // KiB on Linux
	}
}

// Command yield measures runtime.Gosched: the Go side of bench/yield.c,
// printed in the same "<name>: <value> ns/op" format.
//
//	yield       two goroutines each yield N times; elapsed / (2N).
//	yield-solo  one goroutine yields N times with nothing else runnable.
//
// -trace FILE records a runtime/trace execution trace of both.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/trace"
	"sync"
	"syscall"
	"time"
)

func yieldPair(n int) time.Duration {
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(2)
	for t := 0; t < 2; t++ {
		go func() {
			for i := 0; i < n; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	return time.Since(start)
}

func yieldSolo(n int) time.Duration {
	start := time.Now()
	for i := 0; i < n; i++ {
		runtime.Gosched()
	}
	return time.Since(start)
}

// startTrace records a runtime/trace execution trace into path ("": none)
// and returns what stops it and closes the file.
func startTrace(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = trace.Start(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "yield:", err)
		os.Exit(1)
	}
	return func() {
		trace.Stop()
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "yield:", err)
			os.Exit(1)
		}
	}
}

func main() {
	n := flag.Int("n", 5000000, "yields per goroutine")
	tracef := flag.String("trace", "", "write an execution trace of the run to this file")
	flag.Parse()
	if *n < 1 {
		fmt.Fprintln(os.Stderr, "yield: -n must be at least 1")
		os.Exit(2)
	}
	fmt.Printf("# go %s GOMAXPROCS=%d n=%d\n", runtime.Version(), runtime.GOMAXPROCS(0), *n)

	stop := startTrace(*tracef)
	pair, solo := yieldPair(*n), yieldSolo(*n)
	stop()
	fmt.Printf("yield: %.1f ns/op\n", float64(pair.Nanoseconds())/float64(2**n))
	fmt.Printf("yield-solo: %.1f ns/op\n", float64(solo.Nanoseconds())/float64(*n))

	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		fmt.Printf("# peak-rss-kib: %d\n", ru.Maxrss) // KiB on Linux
	}
}

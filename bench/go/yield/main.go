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
	"sync"
	"time"

	"weftbench/internal/benchio"
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

func main() {
	n := flag.Int("n", 5000000, "yields per goroutine")
	tracef := flag.String("trace", "", "write an execution trace of the run to this file")
	flag.Parse()
	if *n < 1 {
		fmt.Fprintln(os.Stderr, "yield: -n must be at least 1")
		os.Exit(2)
	}
	fmt.Printf("# go %s GOMAXPROCS=%d n=%d\n", runtime.Version(), runtime.GOMAXPROCS(0), *n)

	stop := benchio.StartTrace("yield", *tracef)
	pair, solo := yieldPair(*n), yieldSolo(*n)
	stop()
	fmt.Printf("yield: %.1f ns/op\n", float64(pair.Nanoseconds())/float64(2**n))
	fmt.Printf("yield-solo: %.1f ns/op\n", float64(solo.Nanoseconds())/float64(*n))

	benchio.PrintPeakRSS()
}

// Command spawn measures the cost of starting goroutines: the Go side of
// bench/spawn.c, printed in the same "<name>: <value> ns/op" format.
//
//	spawn-seq    spawn one goroutine and wait for it, N times: one
//	             spawn + run + exit + wake of the waiter per op.
//	spawn-burst  spawn N goroutines that each call wg.Done, then wait for
//	             all of them: per-task cost when they pile up.
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

func spawnSeq(n int) time.Duration {
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go wg.Done()
		wg.Wait()
	}
	return time.Since(start)
}

func spawnBurst(n int) time.Duration {
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go wg.Done()
	}
	wg.Wait()
	return time.Since(start)
}

func report(name string, d time.Duration, n int) {
	fmt.Printf("%s: %.1f ns/op\n", name, float64(d.Nanoseconds())/float64(n))
}

func main() {
	n := flag.Int("n", 1000000, "iterations (spawn-seq) and tasks (spawn-burst)")
	tracef := flag.String("trace", "", "write an execution trace of the run to this file")
	flag.Parse()
	if *n < 1 {
		fmt.Fprintln(os.Stderr, "spawn: -n must be at least 1")
		os.Exit(2)
	}
	fmt.Printf("# go %s GOMAXPROCS=%d n=%d\n", runtime.Version(), runtime.GOMAXPROCS(0), *n)

	stop := benchio.StartTrace("spawn", *tracef)
	seq, burst := spawnSeq(*n), spawnBurst(*n)
	stop()
	report("spawn-seq", seq, *n)
	report("spawn-burst", burst, *n)

	benchio.PrintPeakRSS()
}

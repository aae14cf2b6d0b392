// Command million blocks a million goroutines at once on a channel, then
// releases them all: the Go side of bench/million.c (issue 20), printed in
// the same format.
//
// Each goroutine says it started (a WaitGroup) and blocks receiving from
// one unbuffered channel. When all N have started, main sends N values,
// one hand-off to a blocked receiver each, and waits for all N to finish.
//
//	million-create  ms from the first spawn until all N started
//	million-total   ms from the first spawn until all N finished
//	# rss-per-task-bytes  (VmRSS with all N alive - VmRSS before) / N
//	# pte-per-task-bytes  the same for VmPTE (page tables, not in RSS)
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"weftbench/internal/benchio"
)

// statusKiB returns VmRSS and VmPTE of this process in KiB (0 if unknown).
func statusKiB() (rss, pte int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			rss = v
		case "VmPTE:":
			pte = v
		}
	}
	return rss, pte
}

func main() {
	n := flag.Int("n", 1000000, "goroutines blocked at once")
	tracef := flag.String("trace", "", "write an execution trace of the run to this file")
	flag.Parse()
	if *n < 1 {
		fmt.Fprintln(os.Stderr, "million: -n must be at least 1")
		os.Exit(2)
	}
	fmt.Printf("# go %s GOMAXPROCS=%d n=%d\n", runtime.Version(), runtime.GOMAXPROCS(0), *n)

	stop := benchio.StartTrace("million", *tracef)
	gate := make(chan int)
	var started, finished sync.WaitGroup
	rss0, pte0 := statusKiB()
	start := time.Now()
	started.Add(*n)
	finished.Add(*n)
	for i := 0; i < *n; i++ {
		go func() {
			started.Done()
			if v := <-gate; v != 1 {
				panic("million: wrong value")
			}
			finished.Done()
		}()
	}
	started.Wait()
	create := time.Since(start)
	rss1, pte1 := statusKiB()
	for i := 0; i < *n; i++ {
		gate <- 1
	}
	finished.Wait()
	total := time.Since(start)
	stop()

	fmt.Printf("million-create: %.1f ms\n", float64(create.Nanoseconds())/1e6)
	fmt.Printf("million-total: %.1f ms\n", float64(total.Nanoseconds())/1e6)
	fmt.Printf("# rss-per-task-bytes: %.0f\n", float64(rss1-rss0)*1024/float64(*n))
	fmt.Printf("# pte-per-task-bytes: %.0f\n", float64(pte1-pte0)*1024/float64(*n))
	benchio.PrintPeakRSS()
}

// Command yield measures runtime.Gosched: the Go side of bench/yield.c,
// printed in the same "<name>: <value> ns/op" format.
//
//	yield       two goroutines each yield N times; elapsed / (2N).
//	yield-solo  one goroutine yields N times with nothing else runnable.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
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

func main() {
	n := flag.Int("n", 5000000, "yields per goroutine")
	flag.Parse()
	if *n < 1 {
		fmt.Fprintln(os.Stderr, "yield: -n must be at least 1")
		os.Exit(2)
	}
	fmt.Printf("# go %s GOMAXPROCS=%d n=%d\n", runtime.Version(), runtime.GOMAXPROCS(0), *n)

	d := yieldPair(*n)
	fmt.Printf("yield: %.1f ns/op\n", float64(d.Nanoseconds())/float64(2**n))
	d = yieldSolo(*n)
	fmt.Printf("yield-solo: %.1f ns/op\n", float64(d.Nanoseconds())/float64(*n))
}

// Command fib measures nested fork-join: the Go side of bench/fib.c,
// printed in the same "<name>: <value> ns/op" format.
//
//	fib        fib(N) computed by fib(N-1) and fib(N-2) in two new
//	           goroutines, the parent blocked in wg.Wait until both are
//	           done; fib(1) and fib(0) are leaves. Per call, and in ms.
//
// -trace FILE records a runtime/trace execution trace of it.
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

func fib(n int, out *int, done *sync.WaitGroup) {
	if n < 2 {
		*out = n
	} else {
		var wg sync.WaitGroup
		var a, b int
		wg.Add(2)
		go fib(n-1, &a, &wg)
		go fib(n-2, &b, &wg)
		wg.Wait()
		*out = a + b
	}
	done.Done()
}

func calls(n int) int {
	a, b := 1, 1
	for i := 2; i <= n; i++ {
		a, b = b, a+b+1
	}
	if n == 0 {
		return a
	}
	return b
}

func main() {
	n := flag.Int("n", 30, "fib(N), a goroutine per call")
	tracef := flag.String("trace", "", "write an execution trace of the run to this file")
	flag.Parse()
	if *n < 1 || *n > 45 {
		fmt.Fprintln(os.Stderr, "fib: -n must be 1..45")
		os.Exit(2)
	}
	fmt.Printf("# go %s GOMAXPROCS=%d n=%d calls=%d\n", runtime.Version(), runtime.GOMAXPROCS(0), *n, calls(*n))

	stop := benchio.StartTrace("fib", *tracef)
	var wg sync.WaitGroup
	var r int
	start := time.Now()
	wg.Add(1)
	go fib(*n, &r, &wg)
	wg.Wait()
	d := time.Since(start)
	stop()
	x, y := 0, 1
	for i := 0; i < *n; i++ {
		x, y = y, x+y
	}
	if r != x {
		fmt.Fprintf(os.Stderr, "fib: fib(%d) = %d, want %d\n", *n, r, x)
		os.Exit(1)
	}
	fmt.Printf("fib: %.1f ns/op\n", float64(d.Nanoseconds())/float64(calls(*n)))
	fmt.Printf("fib-total: %.1f ms\n", float64(d.Nanoseconds())/1e6)

	benchio.PrintPeakRSS()
}

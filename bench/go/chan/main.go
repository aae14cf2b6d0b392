// chan - cost of channel operations; the Go side of bench/chan.c.
//
//	chan-pingpong  two goroutines bounce a value over two unbuffered
//	               channels; ns per round trip.
//	chan-buffered  one producer, one consumer, capacity 1024; ns per item.
//	select-unbuf   a receiver selects over two unbuffered channels, each fed
//	               by its own sender goroutine; ns per select.
//	select-buf     the same over two channels of capacity 1024.
//
// -trace FILE records a runtime/trace execution trace of all four.
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

func benchSelect(n int, capacity int) float64 {
	a, b := make(chan int, capacity), make(chan int, capacity)
	var wg sync.WaitGroup
	feed := func(c chan int, k int) {
		for i := 0; i < k; i++ {
			c <- i
		}
		close(c)
		wg.Done()
	}
	wg.Add(2)
	go feed(a, n/2)
	go feed(b, n-n/2)
	got := 0
	t0 := time.Now()
	for a != nil || b != nil {
		select {
		case _, ok := <-a:
			if !ok {
				a = nil
				continue
			}
			got++
		case _, ok := <-b:
			if !ok {
				b = nil
				continue
			}
			got++
		}
	}
	ns := float64(time.Since(t0).Nanoseconds()) / float64(n)
	if got != n {
		fmt.Fprintln(os.Stderr, "chan: select got", got, "of", n)
		os.Exit(1)
	}
	wg.Wait()
	return ns
}

func main() {
	n := flag.Int("n", 1000000, "iterations")
	tracef := flag.String("trace", "", "write an execution trace of the run to this file")
	flag.Parse()
	if *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: chan [-n N]   (N >= 1)")
		os.Exit(2)
	}

	stop := benchio.StartTrace("chan", *tracef)
	a, b := make(chan int), make(chan int)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		for i := 0; i < *n; i++ {
			b <- <-a
		}
		wg.Done()
	}()
	t0 := time.Now()
	for i := 0; i < *n; i++ {
		a <- i
		<-b
	}
	pingpong := float64(time.Since(t0).Nanoseconds()) / float64(*n)
	wg.Wait()

	c := make(chan int, 1024)
	wg.Add(1)
	go func() {
		sum := 0
		for v := range c {
			sum += v
		}
		if sum != *n*(*n-1)/2 {
			fmt.Fprintln(os.Stderr, "chan: wrong sum")
			os.Exit(1)
		}
		wg.Done()
	}()
	t0 = time.Now()
	for i := 0; i < *n; i++ {
		c <- i
	}
	close(c)
	wg.Wait()
	buffered := float64(time.Since(t0).Nanoseconds()) / float64(*n)
	selUnbuf, selBuf := benchSelect(*n, 0), benchSelect(*n, 1024)
	stop()

	fmt.Printf("# go n=%d GOMAXPROCS=%d\n", *n, runtime.GOMAXPROCS(0))
	fmt.Printf("chan-pingpong: %.1f ns/op\n", pingpong)
	fmt.Printf("chan-buffered: %.1f ns/op\n", buffered)
	fmt.Printf("select-unbuf: %.1f ns/op\n", selUnbuf)
	fmt.Printf("select-buf: %.1f ns/op\n", selBuf)

	benchio.PrintPeakRSS()
}

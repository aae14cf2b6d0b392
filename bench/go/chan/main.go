// chan - cost of channel operations; the Go side of bench/chan.c.
//
//	chan-pingpong  two goroutines bounce a value over two unbuffered
//	               channels; ns per round trip.
//	chan-buffered  one producer, one consumer, capacity 1024; ns per item.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

func main() {
	n := flag.Int("n", 1000000, "iterations")
	flag.Parse()
	if *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: chan [-n N]   (N >= 1)")
		os.Exit(2)
	}

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

	fmt.Printf("# go n=%d GOMAXPROCS=%d\n", *n, runtime.GOMAXPROCS(0))
	fmt.Printf("chan-pingpong: %.1f ns/op\n", pingpong)
	fmt.Printf("chan-buffered: %.1f ns/op\n", buffered)
}

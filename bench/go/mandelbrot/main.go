// Command mandelbrot is the Mandelbrot program of Dave Cheney's High
// Performance Go Workshop (chapter 4, "Execution Tracer"): the Go side of
// examples/mandelbrot.c, with the same flags and output lines.
//
// What is kept from the workshop (the kernel and the image are in
// internal/mandel, shared with bench/go/mandelweb), so that the two
// programs can be checked against each other and against the workshop's
// figures:
//   - the kernel: 1000 iterations, bailout |Z|^2 > 4, C = (2x/1000 - 1.5,
//     2y/1000 - 1) where x indexes the -h dimension and y the -w one (the
//     scale is the iteration count, not the image size), gray level
//     byte(Tr*Ti*2);
//   - the image: a slice of h rows of w color.RGBA, row x holding the
//     pixels of one real part; Bounds is Rect(0, 0, h, w) and At(x, y) is
//     row x, column y, so the PNG is h pixels wide and w tall and png.Encode
//     reads it through the generic At path (one boxed color per pixel: the
//     garbage behind the workshop's saw-tooth heap);
//   - the fill strategies:
//     seq      every pixel in turn
//     px       one goroutine per pixel, a WaitGroup
//     row      one goroutine per row, a WaitGroup
//     workers  -workers goroutines take pixels from an unbuffered channel
//     buffered the same through a channel of capacity h*w
//     plain    the same as seq (the C program runs it outside its runtime;
//     Go has no outside)
//
// Changed: workers waits for its goroutines after closing the channel (the
// workshop's unbuffered version returned at once and could encode before the
// last pixels were painted); -workers defaults to 1 as in the workshop.
//
// Output: "compute: <ms> ms", "encode: <ms> ms" (PNG encode and write),
// "checksum: <sum of the gray levels>", "# peak-rss-kib: X". -o "" or -o -
// skips the PNG (and the encode line). -trace FILE records a runtime/trace
// execution trace of compute and encode.
package main

import (
	"flag"
	"fmt"
	"image/png"
	"os"
	"runtime"
	"runtime/trace"
	"sync"
	"syscall"
	"time"

	"weftbench/internal/mandel"
)

// maxSide bounds -h and -w: C stays below 92 in modulus, so Tr*Ti*2 stays
// far below 2^31 and every conversion of it to an integer is exact.
const maxSide = 32768

// picture is the workshop's image (internal/mandel, shared with mandelweb).
type picture = mandel.Picture

type pixel struct{ x, y int }

func fillSeq(p *picture) {
	for x := range p.Rows {
		for y := range p.Rows[x] {
			p.Paint(x, y)
		}
	}
}

func fillPx(p *picture) {
	var wg sync.WaitGroup
	wg.Add(p.H * p.W)
	for x := range p.Rows {
		for y := range p.Rows[x] {
			go func(x, y int) {
				p.Paint(x, y)
				wg.Done()
			}(x, y)
		}
	}
	wg.Wait()
}

func fillRow(p *picture) {
	var wg sync.WaitGroup
	wg.Add(p.H)
	for x := range p.Rows {
		go func(x int) {
			for y := range p.Rows[x] {
				p.Paint(x, y)
			}
			wg.Done()
		}(x)
	}
	wg.Wait()
}

// fillWorkers: workers goroutines drain a channel of capacity capacity that
// the caller fills with every pixel, then closes.
func fillWorkers(p *picture, workers, capacity int) {
	c := make(chan pixel, capacity)
	var wg sync.WaitGroup
	wg.Add(workers)
	for i := 0; i < workers; i++ {
		go func() {
			for px := range c {
				p.Paint(px.x, px.y)
			}
			wg.Done()
		}()
	}
	for x := range p.Rows {
		for y := range p.Rows[x] {
			c <- pixel{x, y}
		}
	}
	close(c)
	wg.Wait()
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "mandelbrot:", err)
	os.Exit(1)
}

func writePNG(path string, p *picture) {
	f, err := os.Create(path)
	if err != nil {
		fatal(err)
	}
	if err := png.Encode(f, p); err != nil {
		fatal(err)
	}
	if err := f.Close(); err != nil {
		fatal(err)
	}
}

func main() {
	var (
		h       = flag.Int("h", 1024, "image extent along the real axis (the PNG's width, as in the workshop)")
		w       = flag.Int("w", 1024, "image extent along the imaginary axis (the PNG's height)")
		mode    = flag.String("mode", "seq", "seq, px, row, workers, buffered or plain")
		workers = flag.Int("workers", 1, "worker goroutines of the workers and buffered modes")
		out     = flag.String("o", "mandelbrot.png", "PNG file to write; '' or - writes none")
		tracef  = flag.String("trace", "", "write an execution trace of compute and encode to this file")
	)
	flag.Parse()
	if flag.NArg() != 0 || *h < 1 || *h > maxSide || *w < 1 || *w > maxSide || *workers < 1 {
		fmt.Fprintf(os.Stderr, "mandelbrot: -h and -w must be in 1..%d, -workers at least 1\n", maxSide)
		flag.Usage()
		os.Exit(2)
	}
	var fill func(*picture)
	switch *mode {
	case "seq", "plain":
		fill = fillSeq
	case "px":
		fill = fillPx
	case "row":
		fill = fillRow
	case "workers":
		fill = func(p *picture) { fillWorkers(p, *workers, 0) }
	case "buffered":
		fill = func(p *picture) { fillWorkers(p, *workers, p.H*p.W) }
	default:
		fmt.Fprintf(os.Stderr, "mandelbrot: unknown mode %q (seq, px, row, workers, buffered, plain)\n", *mode)
		os.Exit(2)
	}

	p := mandel.New(*h, *w, 2)
	if *tracef != "" {
		tf, err := os.Create(*tracef)
		if err != nil {
			fatal(err)
		}
		if err := trace.Start(tf); err != nil {
			fatal(err)
		}
		defer tf.Close()
	}

	t0 := time.Now()
	fill(p)
	compute := time.Since(t0)

	write := *out != "" && *out != "-"
	var encode time.Duration
	if write {
		t1 := time.Now()
		writePNG(*out, p)
		encode = time.Since(t1)
	}
	if *tracef != "" {
		trace.Stop()
	}

	var sum int64
	for x := range p.Rows {
		for _, c := range p.Rows[x] {
			sum += int64(c.R)
		}
	}
	fmt.Printf("# go %s GOMAXPROCS=%d mode=%s workers=%d h=%d w=%d\n",
		runtime.Version(), runtime.GOMAXPROCS(0), *mode, *workers, *h, *w)
	fmt.Printf("compute: %.2f ms\n", float64(compute.Nanoseconds())/1e6)
	if write {
		fmt.Printf("encode: %.2f ms\n", float64(encode.Nanoseconds())/1e6)
	}
	fmt.Printf("checksum: %d\n", sum)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		fmt.Printf("# peak-rss-kib: %d\n", ru.Maxrss) // KiB on Linux
	}
}

// Command mandelweb is the Mandelbrot web service of Dave Cheney's High
// Performance Go Workshop (section 4.9, "Mandelweb"): the Go side of
// bench/mandelweb.c, with the same URLs, query parameters, responses and
// printed line, for make bench-web (bench/web.sh), which loads both with hey.
//
//	GET /mandelbrot  the workshop's picture as image/png. The workshop's
//	                 service has no parameters (512x512, runtime.NumCPU()
//	                 workers taking rows from a buffered channel); here:
//	    size=N       side in pixels, 1..2048 (default 512); the picture
//	                 covers the same square at every size (zoom =
//	                 4*512/N: 512 is the workshop's picture bit for bit)
//	    mode=M       row (default: a goroutine per row, a WaitGroup), seq,
//	                 px (a goroutine per pixel), workers (the workshop's:
//	                 workers goroutines take rows from a channel of
//	                 capacity N)
//	    workers=K    goroutines of mode=workers, 1..1024 (default
//	                 GOMAXPROCS, as the C side defaults to its Ps)
//	                 A bad value is a 400 with a one-line reason.
//	GET /            a short HTML index
//	other paths      404; other methods on the two: 405 (HEAD is GET
//	                 without the body)
//
// The picture is the workshop's type (internal/mandel, shared with
// bench/go/mandelbrot): rows of color.RGBA behind At(), so png.Encode reads
// it through the generic At path, as in the workshop. Unlike the workshop's handler, the PNG is encoded
// into a buffer and sent with a Content-Length (the C side does the same),
// not streamed in chunks; no request is logged (the workshop's logRequest
// would be most of what the small-image benchmark measures).
//
// It prints "listening on http://ADDR/" on stdout once it listens (-addr
// 127.0.0.1:0: any free port). SIGINT and SIGTERM close the server, stop
// the -trace FILE runtime/trace recording and exit 0. -idle D closes a
// connection idle for D (http.Server's IdleTimeout and ReadHeaderTimeout;
// default 60s).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"image/png"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"weftbench/internal/benchio"
	"weftbench/internal/mandel"
)

const (
	maxSide     = 2048
	maxWorkers  = 1024
	defaultSide = 512
)

// picture is the workshop's image and kernel (internal/mandel, shared
// with bench/go/mandelbrot), zoom 4*512/size.
type picture struct{ *mandel.Picture }

func (p *picture) fill(mode string, workers int) {
	var wg sync.WaitGroup
	switch mode {
	case "seq":
		for x := range p.Rows {
			p.PaintRow(x)
		}
	case "row":
		wg.Add(p.H)
		for x := range p.Rows {
			go func(x int) {
				p.PaintRow(x)
				wg.Done()
			}(x)
		}
		wg.Wait()
	case "px":
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
	case "workers":
		c := make(chan int, p.H)
		wg.Add(workers)
		for i := 0; i < workers; i++ {
			go func() {
				for x := range c {
					p.PaintRow(x)
				}
				wg.Done()
			}()
		}
		for x := range p.Rows {
			c <- x
		}
		close(c)
		wg.Wait()
	}
}

const indexHTML = `<!DOCTYPE html>
<html><head><title>mandelweb</title></head><body>
<h1>mandelweb</h1>
<p>The Mandelbrot of the High Performance Go Workshop, served by Go's net/http.</p>
<ul>
<li><a href="/mandelbrot">/mandelbrot</a>: the workshop's 512x512 picture</li>
<li><a href="/mandelbrot?size=64&amp;mode=seq">/mandelbrot?size=64&amp;mode=seq</a>: size=1..2048, mode=row|seq|px|workers, workers=1..1024</li>
</ul>
</body></html>
`

var requests uint64

// intParam: the query parameter name as an integer in lo..hi, def when absent.
func intParam(r *http.Request, name string, lo, hi, def int) (int, bool) {
	q := r.URL.Query()
	if _, ok := q[name]; !ok {
		return def, true
	}
	s := q.Get(name)
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, false
	}
	return v, true
}

func mandelbrot(w http.ResponseWriter, r *http.Request) {
	side, ok := intParam(r, "size", 1, maxSide, defaultSide)
	if !ok {
		http.Error(w, fmt.Sprintf("bad size: want an integer in 1..%d", maxSide), http.StatusBadRequest)
		return
	}
	mode := "row"
	if v, ok := r.URL.Query()["mode"]; ok {
		mode = v[0]
		if mode != "row" && mode != "seq" && mode != "px" && mode != "workers" {
			http.Error(w, "bad mode: want row, seq, px or workers", http.StatusBadRequest)
			return
		}
	}
	workers, ok := intParam(r, "workers", 1, maxWorkers, runtime.GOMAXPROCS(0))
	if !ok {
		http.Error(w, fmt.Sprintf("bad workers: want an integer in 1..%d", maxWorkers), http.StatusBadRequest)
		return
	}
	p := picture{mandel.New(side, side, 4*defaultSide/float64(side))}
	p.fill(mode, workers)
	var buf bytes.Buffer
	if err := png.Encode(&buf, p.Picture); err != nil {
		http.Error(w, "cannot draw the picture", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Write(buf.Bytes())
}

func serve(w http.ResponseWriter, r *http.Request) {
	atomic.AddUint64(&requests, 1)
	path := r.URL.Path
	if path != "/" && path != "/mandelbrot" {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if path == "/" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(indexHTML)))
		w.Write([]byte(indexHTML))
		return
	}
	mandelbrot(w, r)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "where to listen (port 0: any free port)")
	idle := flag.Duration("idle", 60*time.Second, "close connections idle that long")
	tracef := flag.String("trace", "", "write a runtime/trace execution trace of the whole run to this file")
	flag.Parse()
	if flag.NArg() != 0 || *idle <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mandelweb:", err)
		os.Exit(1)
	}
	stop := benchio.StartTrace("mandelweb", *tracef)
	srv := &http.Server{
		Handler:           http.HandlerFunc(serve),
		IdleTimeout:       *idle,
		ReadHeaderTimeout: *idle,
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "mandelweb: %v: shutting down (%d requests served)\n", s,
			atomic.LoadUint64(&requests))
		srv.Close()
	}()
	fmt.Printf("listening on http://%s/\n", ln.Addr())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "mandelweb:", err)
		os.Exit(1)
	}
	stop()
}

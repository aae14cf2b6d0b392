// Command echo is an echo server and its clients over TCP on loopback,
// with Go's net (its netpoller): the Go side of bench/echo.c, with the
// same flags, the same two processes and the same output lines.
//
// Two processes of this program: the server (the one started) and the
// clients (itself again, with -client ADDR): one process cannot hold
// 10,000 connections' both ends where RLIMIT_NOFILE's hard limit is 20,000
// and may not be raised. Both run with the same GOMAXPROCS. Go raises the
// RLIMIT_NOFILE soft limit to the hard limit by itself (since Go 1.19);
// when that is not enough this raises the hard one too, where it may, as
// bench/echo.c does.
//
// The server: a listener on 127.0.0.1 (a free port), an accept loop in a
// goroutine, a goroutine per connection that reads up to 4 KiB and writes
// back what it read, until end of file; it waits for the client process
// and exits with its status.
//
// Throughput (the default): for C in 1, 100 and 10,000 connections, the
// client's C goroutines dial (a thousand at a time), wait until all are
// connected, then each sends -size bytes (default 128) and reads the echo
// back, -msgs / C times (default 200,000 messages in all); the time from
// the start signal (a channel closed) to the last echo read, per message:
// "echo-1: X ns/op", "echo-100: X ns/op", "echo-10000: X ns/op".
//
// -idle N: N connections whose server goroutines (the echo goroutines
// above, 4 KiB buffer included) are each blocked in a Read, as are the
// client's; the server then prints "# idle-rss-kib: X" (VmRSS), writes a
// byte into each connection, which the client sends back, the server's
// goroutine echoes, and the client reads before it closes:
// "idle-wake: X ms", until every server goroutine has ended.
//
// The server prints "# peak-rss-kib: X" last, the client
// "# client-peak-rss-kib: X". -trace FILE traces the server (runtime/trace).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"weftbench/internal/benchio"
)

const batch = 1000

var (
	msgs   = flag.Int64("msgs", 200000, "messages in all per measurement")
	size   = flag.Int("size", 128, "bytes a message (1..4096)")
	conns  = flag.Int("conns", 0, "measure this many connections only")
	idleN  = flag.Int("idle", 0, "hold this many idle connections and report the server's memory")
	client = flag.String("client", "", "(internal) be the client process of the server at this address")
	failed int64
)

func die(what string, err error) {
	who := "echo"
	if *client != "" {
		who = "echo (client)"
	}
	fmt.Fprintf(os.Stderr, "%s: %s: %v\n", who, what, err)
	os.Exit(1)
}

func rssKiB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), "VmRSS:") {
			var v int64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(s.Text(), "VmRSS:")), "%d", &v)
			return v
		}
	}
	return -1
}

// ---- server ----

// echo serves a connection; with st (-idle) it also records the
// connection, says when it is about to block in its first Read, and when
// it ends.
func echo(c net.Conn, st *idleState) {
	buf := make([]byte, 4096)
	if st != nil {
		st.mu.Lock()
		st.conns = append(st.conns, c)
		st.mu.Unlock()
		st.blocked.Done()
	}
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	c.Close()
	if st != nil {
		st.done.Done()
	}
}

type idleState struct {
	blocked, done sync.WaitGroup
	mu            sync.Mutex
	conns         []net.Conn
}

func acceptLoop(ln net.Listener, st *idleState) {
	n := 0
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if n++; st != nil && n > *idleN {
			die("accept", fmt.Errorf("more connections than asked"))
		}
		go echo(c, st)
	}
}

func server() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		die("listen", err)
	}
	var st *idleState
	if *idleN > 0 {
		st = &idleState{conns: make([]net.Conn, 0, *idleN)}
		st.blocked.Add(*idleN)
		st.done.Add(*idleN)
	}
	go acceptLoop(ln, st)
	args := []string{"-client", ln.Addr().String(), "-msgs", strconv.FormatInt(*msgs, 10),
		"-size", strconv.Itoa(*size)}
	if *idleN > 0 {
		args = append(args, "-idle", strconv.Itoa(*idleN))
	} else if *conns > 0 {
		args = append(args, "-conns", strconv.Itoa(*conns))
	}
	self, err := os.Executable()
	if err != nil {
		die("os.Executable", err)
	}
	cmd := exec.Command(self, args...)
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		die("start the client", err)
	}
	if st != nil {
		st.blocked.Wait()
		// Every server goroutine is in (or entering) its Read: the
		// memory of idle connections of the echo server. Then a byte
		// into each: the client sends it back, the server's goroutine
		// echoes it, the client reads it and closes.
		fmt.Printf("# idle-conns: %d\n# idle-rss-kib: %d\n", *idleN, rssKiB())
		t0 := time.Now()
		for _, c := range st.conns {
			if _, err := c.Write([]byte{'i'}); err != nil {
				die("idle write", err)
			}
		}
		st.done.Wait()
		fmt.Printf("idle-wake: %.2f ms\n", float64(time.Since(t0).Nanoseconds())/1e6)
	}
	status := 0
	if err := cmd.Wait(); err != nil {
		status = 1
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() > 0 {
			status = ee.ExitCode()
		}
	}
	ln.Close()
	if status != 0 {
		os.Exit(status)
	}
}

// ---- the client process ----

// dialAll starts n goroutines of fn, batch at a time, each batch connected
// before the next; fn calls connected.Done() once it has dialed.
func dialAll(n int, fn func(connected *sync.WaitGroup)) {
	for i := 0; i < n; i += batch {
		k := n - i
		if k > batch {
			k = batch
		}
		var connected sync.WaitGroup
		connected.Add(k)
		for j := 0; j < k; j++ {
			go fn(&connected)
		}
		connected.Wait()
	}
}

func measure(c int) {
	perConn := *msgs / int64(c)
	if perConn < 1 {
		perConn = 1
	}
	start := make(chan struct{})
	var done sync.WaitGroup
	done.Add(c)
	dialAll(c, func(connected *sync.WaitGroup) {
		conn, err := net.Dial("tcp", *client)
		if err != nil {
			die("dial", err)
		}
		connected.Done()
		<-start
		msg := make([]byte, *size)
		back := make([]byte, *size)
		for i := range msg {
			msg[i] = 'x'
		}
		for i := int64(0); i < perConn; i++ {
			msg[0] = byte(i)
			if _, err := conn.Write(msg); err != nil {
				atomic.AddInt64(&failed, 1)
				break
			}
			if _, err := io.ReadFull(conn, back); err != nil || back[0] != msg[0] {
				atomic.AddInt64(&failed, 1)
				break
			}
		}
		done.Done()
		conn.Close()
	})
	t0 := time.Now()
	close(start)
	done.Wait()
	ns := time.Since(t0).Nanoseconds()
	if failed != 0 {
		die(fmt.Sprintf("echo-%d", c), fmt.Errorf("%d connections failed", failed))
	}
	fmt.Printf("echo-%d: %.1f ns/op\n", c, float64(ns)/float64(int64(c)*perConn))
}

func clientMain() {
	fmt.Printf("# go GOMAXPROCS=%d size=%d msgs=%d (client and server processes)\n",
		runtime.GOMAXPROCS(0), *size, *msgs)
	switch {
	case *idleN > 0:
		var done sync.WaitGroup
		done.Add(*idleN)
		dialAll(*idleN, func(connected *sync.WaitGroup) {
			conn, err := net.Dial("tcp", *client)
			if err != nil {
				die("dial", err)
			}
			connected.Done()
			b := make([]byte, 1)
			if _, err := io.ReadFull(conn, b); err != nil || b[0] != 'i' {
				atomic.AddInt64(&failed, 1)
			} else if _, err := conn.Write(b); err != nil {
				atomic.AddInt64(&failed, 1)
			} else if _, err := io.ReadFull(conn, b); err != nil || b[0] != 'i' {
				atomic.AddInt64(&failed, 1)
			}
			done.Done()
			conn.Close()
		})
		done.Wait()
		if failed != 0 {
			die("idle", fmt.Errorf("%d connections failed", failed))
		}
	case *conns > 0:
		measure(*conns)
	default:
		measure(1)
		measure(100)
		measure(10000)
	}
}

// raiseNofile: Go has set the soft limit to the hard one; raise the hard
// one when one fd a connection (and some to spare) needs more, if allowed.
func raiseNofile(n int) {
	want := uint64(n + 64)
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) != nil || rl.Cur >= want {
		return
	}
	up := syscall.Rlimit{Cur: want, Max: want}
	if rl.Max < want && syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up) == nil {
		return
	}
	fmt.Fprintf(os.Stderr, "echo: %d connections need %d fds; RLIMIT_NOFILE allows %d (raise the hard limit: ulimit -Hn, as root)\n",
		n, want, rl.Cur)
	os.Exit(1)
}

func main() {
	tracef := flag.String("trace", "", "write a runtime/trace execution trace of the server to this file")
	flag.Parse()
	if flag.NArg() != 0 || *msgs < 1 || *size < 1 || *size > 4096 || *conns < 0 || *idleN < 0 {
		flag.Usage()
		os.Exit(2)
	}
	n := 10000
	if *idleN > 0 {
		n = *idleN
	} else if *conns > 0 {
		n = *conns
	}
	raiseNofile(n)
	if *client != "" {
		clientMain()
		var ru syscall.Rusage
		if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
			fmt.Printf("# client-peak-rss-kib: %d\n", ru.Maxrss)
		}
		return
	}
	stop := benchio.StartTrace("echo", *tracef)
	server()
	stop()
	benchio.PrintPeakRSS()
}

// Command qpbench holds the processes bench/queueproxy.sh compares: the
// sample app, the queue-proxy, a bare httputil.ReverseProxy, and a
// fixed-rate load generator (wrk only does closed-loop load).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gantry-dev/gantry/queueproxy"
	"github.com/gantry-dev/gantry/sampleapp"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: qpbench app|queue-proxy|revproxy|rate|godebug ...")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if path := os.Getenv("QPBENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	var err error
	switch os.Args[1] {
	case "app":
		err = sampleapp.Main(ctx, os.Getenv)
	case "queue-proxy":
		err = queueproxy.Main(ctx, os.Args[2:], os.Getenv)
	case "revproxy":
		err = revproxy(ctx, os.Args[2:])
	case "rate":
		err = rate(os.Args[2:])
	case "godebug":
		// The GODEBUG that gantry's launchers give a queue-proxy.
		fmt.Println(queueproxy.GoDebug(os.Getenv("GODEBUG")))
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "qpbench:", err)
		os.Exit(1)
	}
}

// revproxy is the baseline: httputil.ReverseProxy with a default Transport.
func revproxy(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("revproxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "listen address")
	target := fs.String("target", "", "backend URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*target)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: httputil.NewSingleHostReverseProxy(u)}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// rate sends GETs (or POSTs) at a fixed rate from c connections and prints what it did.
func rate(args []string) error {
	fs := flag.NewFlagSet("rate", flag.ContinueOnError)
	target := fs.String("url", "", "URL to GET")
	rps := fs.Int("rps", 5000, "requests per second")
	dur := fs.Duration("d", 10*time.Second, "duration")
	conns := fs.Int("c", 50, "connections")
	host := fs.String("host", "", "Host header (default: the URL's)")
	bodySize := fs.Int("body", 0, "POST a body of this many bytes instead of a GET")
	if err := fs.Parse(args); err != nil {
		return err
	}
	body := bytes.Repeat([]byte("b"), *bodySize)
	newReq := func() (*http.Request, error) {
		method, rd := http.MethodGet, io.Reader(nil)
		if *bodySize > 0 {
			method, rd = http.MethodPost, bytes.NewReader(body)
		}
		req, err := http.NewRequest(method, *target, rd)
		if err == nil && *host != "" {
			req.Host = *host
		}
		return req, err
	}
	if _, err := newReq(); err != nil {
		return err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	work := make(chan struct{}, *conns*4)
	var ok, failed, dropped atomic.Int64
	var wg sync.WaitGroup
	for range *conns {
		wg.Go(func() {
			for range work {
				req, _ := newReq()
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		})
	}
	interval := time.Second / time.Duration(*rps)
	start := time.Now()
	n := int64(0)
	for time.Since(start) < *dur {
		due := int64(time.Since(start) / interval)
		for ; n < due; n++ {
			select {
			case work <- struct{}{}:
			default:
				dropped.Add(1) // the target cannot keep up
			}
		}
		time.Sleep(time.Millisecond)
	}
	close(work)
	wg.Wait()
	el := time.Since(start).Seconds()
	fmt.Printf("sent=%d ok=%d failed=%d dropped=%d seconds=%.2f achieved_rps=%.0f\n",
		n, ok.Load(), failed.Load(), dropped.Load(), el, float64(ok.Load())/el)
	return nil
}

package queueproxy

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/internal/h1"
	"github.com/gantry-dev/gantry/internal/multilisten"
	"github.com/gantry-dev/gantry/internal/quietunix"
)

// Ports are the bound ports, as written to --ports-file.
type Ports struct {
	HTTP    int `json:"http"`
	H2C     int `json:"h2c"`
	Admin   int `json:"admin"`
	Stats   int `json:"stats"`
	Metrics int `json:"metrics"`
	// Unix is the socket that serves what HTTP does, for a gateway on the
	// same machine; "" when none was asked for or it could not be made.
	Unix string `json:"unix,omitempty"`
}

type options struct {
	ports       Ports
	unixSocket  string
	portsFile   string
	quiet       time.Duration
	wsGrace     time.Duration
	appPID      int
	statsPeriod time.Duration
}

func parseFlags(args []string, getenv func(string) string) (options, Env, error) {
	var o options
	fs := flag.NewFlagSet("queue-proxy", flag.ContinueOnError)
	fs.IntVar(&o.ports.HTTP, "http-port", 8012, "HTTP/1.1 proxy port (0: a free port on 127.0.0.1); default $QUEUE_SERVING_PORT")
	fs.IntVar(&o.ports.H2C, "h2c-port", 8013, "h2c (HTTP/2 cleartext, gRPC) proxy port")
	fs.IntVar(&o.ports.Admin, "admin-port", 8022, "admin port: health and /wait-for-drain")
	fs.IntVar(&o.ports.Stats, "stats-port", 9090, "autoscaler stats port")
	fs.IntVar(&o.ports.Metrics, "metrics-port", 9091, "Prometheus request metrics port")
	fs.StringVar(&o.unixSocket, "unix-socket", "", "also serve the HTTP/1.1 proxy on this Unix socket (for a gateway on the same machine)")
	fs.StringVar(&o.portsFile, "ports-file", "", "write the bound ports as JSON to this file once all are listening")
	fs.DurationVar(&o.quiet, "drain-quiet-period", 30*time.Second, "on shutdown, wait until no request arrived for this long")
	fs.DurationVar(&o.wsGrace, "websocket-drain-grace", 60*time.Second, "on shutdown, how long upgraded connections may stay open")
	fs.IntVar(&o.appPID, "app-pid", 0, "PID of the app, for its CPU and memory metrics (default $GANTRY_APP_PID, else found by USER_PORT)")
	fs.DurationVar(&o.statsPeriod, "stats-period", time.Second, "autoscaler stats reporting period")
	if err := fs.Parse(args); err != nil {
		return o, Env{}, err
	}
	if fs.NArg() > 0 {
		return o, Env{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.statsPeriod <= 0 || o.quiet < 0 || o.wsGrace < 0 {
		return o, Env{}, errors.New("--stats-period must be > 0, drain durations >= 0")
	}
	for _, p := range []int{o.ports.HTTP, o.ports.H2C, o.ports.Admin, o.ports.Stats, o.ports.Metrics} {
		if p < 0 || p > 65535 {
			return o, Env{}, fmt.Errorf("port %d out of range", p)
		}
	}
	env, err := LoadEnv(getenv)
	if err != nil {
		return o, env, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["http-port"] && env.ServingPort != 0 && env.ServingPort != o.ports.H2C {
		o.ports.HTTP = env.ServingPort
	}
	if o.appPID > 0 {
		env.AppPID = o.appPID
	}
	return o, env, nil
}

// Main runs the queue-proxy until ctx ends (the equivalent of SIGTERM), then
// drains as Knative's does: health turns 503, it waits for a quiet period
// with no new request, shuts the servers down gracefully and gives upgraded
// connections their own grace. It returns nil after a clean drain.
func Main(ctx context.Context, args []string, getenv func(string) string) error {
	o, env, err := parseFlags(args, getenv)
	if err != nil {
		return fmt.Errorf("queue-proxy: %w", err)
	}
	log := slog.Default().With("component", "queue-proxy", "revision", env.Revision, "pod", env.Pod)
	setGCPercent()

	lns, ports, err := listenAll(o.ports)
	if err != nil {
		return fmt.Errorf("queue-proxy: %w", err)
	}
	if o.unixSocket != "" {
		// Optional: without it the gateway uses the TCP port.
		if uln, err := listenUnix(o.unixSocket); err != nil {
			log.Warn("no Unix socket; the HTTP port serves alone", "err", err)
		} else {
			lns[0], ports.Unix = multilisten.New(lns[0], uln), o.unixSocket
		}
	}
	// From here on, the servers own (and close) the listeners.
	lns[0], lns[1] = env.Limits.Listen(lns[0]), env.Limits.Listen(lns[1])

	breaker := NewBreaker(env.ContainerConcurrency)
	stats := NewRequestStats(time.Now())
	mo := MetricsOptions{AppPID: func() int { return env.AppPID }}
	if breaker != nil {
		mo.QueueDepth = func() float64 { return float64(breaker.InFlight()) }
	} else {
		// Without a breaker nothing queues: the depth is what is in flight.
		// Always exporting it gives every pod a series to join CPU and memory on.
		mo.QueueDepth = func() float64 { return float64(stats.Concurrency()) }
	}
	deps := handlerDeps{
		env:     env,
		breaker: breaker,
		stats:   stats,
		metrics: NewMetrics(env, mo),
		drainer: NewDrainer(o.quiet),
		prober:  NewProber(env.ReadinessProbe, log),
		timeouts: Timeouts{Overall: env.RevisionTimeout, ResponseStart: env.ResponseStartTimeout,
			Idle: env.IdleTimeout},
		tracker: newHijackTracker(),
		log:     log,
	}
	var stopTelemetry func()
	deps.tracer, stopTelemetry = startTelemetry(ctx, TelemetryParams{Env: env, Getenv: getenv,
		Registry: deps.metrics.Registry(), Log: log})
	defer stopTelemetry()
	reporter := NewStatsReporter(stats, env.Pod, o.statsPeriod, nil)

	h1Transport := newAppTransport(env.ContainerConcurrency, false)
	h2Transport := newAppTransport(env.ContainerConcurrency, true)
	httpHandler := buildHandler(deps, h1Transport)
	deps.h2c = true
	h2cHandler := buildHandler(deps, h2Transport)

	errLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	newServer := func(h http.Handler, h2c bool) *http.Server {
		s := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 5 * time.Minute, ErrorLog: errLog}
		if h == httpHandler || h == h2cHandler {
			env.Limits.Apply(s) // the client-facing ports: config-network's limits
		}
		s.Protocols = new(http.Protocols)
		s.Protocols.SetHTTP1(true)
		s.Protocols.SetUnencryptedHTTP2(h2c)
		return s
	}
	// Bodyless HTTP/1.1 requests are served by h1Server; a connection
	// that sends anything else moves to an http.Server with the same handler.
	httpSrv := h1.NewServer(httpHandler, newServer(httpHandler, false), log)
	h2cSrv := newServer(h2cHandler, true)
	adminSrv := newServer(adminHandler(ctx, deps.drainer, deps.prober), false)
	statsSrv := newServer(StatsHandler(reporter, env), false)
	metricsSrv := newServer(metricsMux(deps.metrics), false)
	servers := []server{httpSrv, h2cSrv, adminSrv, statsSrv, metricsSrv}

	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { deps.prober.Run(bg) })
	wg.Go(func() { reporter.Run(bg) })
	errc := make(chan error, len(servers))
	for i, s := range servers {
		ln := lns[i]
		wg.Go(func() {
			if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve %s: %w", ln.Addr(), err)
			}
		})
	}
	stopAll := func() {
		stopBG()
		for _, s := range servers {
			s.Close()
		}
		wg.Wait()
	}
	if o.portsFile != "" {
		if err := writePortsFile(o.portsFile, ports); err != nil {
			stopAll()
			return fmt.Errorf("queue-proxy: %w", err)
		}
	}
	log.Info("queue-proxy listening", "http", ports.HTTP, "h2c", ports.H2C, "admin", ports.Admin,
		"stats", ports.Stats, "metrics", ports.Metrics, "user_port", env.UserPort,
		"container_concurrency", env.ContainerConcurrency)

	select {
	case err := <-errc:
		stopAll()
		return fmt.Errorf("queue-proxy: %w", err)
	case <-ctx.Done():
	}

	log.Info("draining", "quiet_period", o.quiet)
	deps.drainer.Drain(context.Background())
	log.Info("drained; shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), env.RevisionTimeout+time.Second)
	defer cancel()
	var firstErr error
	var swg sync.WaitGroup
	for _, s := range []server{httpSrv, h2cSrv} {
		swg.Go(func() {
			if err := s.Shutdown(sctx); err != nil {
				s.Close()
			}
		})
	}
	swg.Wait()
	wctx, wcancel := context.WithTimeout(context.Background(), o.wsGrace)
	deps.tracker.Shutdown(wctx)
	wcancel()
	httpHandler.fast.closeIdle()
	h1Transport.CloseIdleConnections()
	h2Transport.CloseIdleConnections()
	actx, acancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer acancel()
	for _, s := range []*http.Server{adminSrv, statsSrv, metricsSrv} {
		if err := s.Shutdown(actx); err != nil {
			s.Close()
		}
	}
	stopBG()
	wg.Wait()
	select {
	case err := <-errc:
		firstErr = fmt.Errorf("queue-proxy: %w", err)
	default:
	}
	log.Info("queue-proxy stopped")
	return firstErr
}

// server is what Main needs of http.Server and h1Server.
type server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

// gcPercent replaces GOGC's default of 100 unless GOGC is set. The proxy's
// live heap is about 1 MB, so at the default the runtime's 4 MB minimum heap
// goal made it collect every ~1000 requests (9 times a second at 5000 rps,
// ~5% of its CPU). At 400 the goal is max(16 MB, 5 x live heap): a quarter
// of the collections, and memory stays proportional to the live heap.
const gcPercent = 400

func setGCPercent() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}

// listenAll binds the five ports in Ports order; port 0 means a free port on
// 127.0.0.1 (one machine), any other port listens on all interfaces.
func listenAll(want Ports) ([]net.Listener, Ports, error) {
	var lns []net.Listener
	var got Ports
	names := []string{"http", "h2c", "admin", "stats", "metrics"}
	for i, p := range []int{want.HTTP, want.H2C, want.Admin, want.Stats, want.Metrics} {
		addr := ":" + strconv.Itoa(p)
		if p == 0 {
			addr = "127.0.0.1:0"
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, got, fmt.Errorf("listen %s port %s: %w", names[i], addr, err)
		}
		lns = append(lns, ln)
		port := ln.Addr().(*net.TCPAddr).Port
		*[]*int{&got.HTTP, &got.H2C, &got.Admin, &got.Stats, &got.Metrics}[i] = port
	}
	return lns, got, nil
}

// listenUnix listens on path, replacing a socket a killed queue-proxy left
// there (never another kind of file), readable by this user only. Closing
// the listener removes the file.
func listenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("unix socket %s: a file that is not a socket is in the way", path)
		}
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("unix socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("unix socket: %w", err)
	}
	// Its connections wake the queue-proxy only to read (see quietunix).
	return quietunix.Listener{Listener: ln}, nil
}

// writePortsFile replaces path atomically, so a reader never sees half a file.
func writePortsFile(path string, p Ports) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("ports file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ports-*.json")
	if err != nil {
		return fmt.Errorf("ports file: %w", err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("ports file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("ports file: %w", err)
	}
	return nil
}

// newAppTransport is the client side to the app for requests the fast path
// does not take: no proxy from the environment, no compression, idle
// connections sized to the concurrency.
func newAppTransport(cc int, h2c bool) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		MaxIdleConns:          maxIdle(cc),
		MaxIdleConnsPerHost:   maxIdle(cc),
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ExpectContinueTimeout: time.Second,
		WriteBufferSize:       appWriteBuffer, // a small body goes out with its head
	}
	t.Protocols = new(http.Protocols)
	if h2c {
		t.Protocols.SetUnencryptedHTTP2(true)
	} else {
		t.Protocols.SetHTTP1(true)
	}
	return t
}

// adminHandler serves health and the PreStop hook's /wait-for-drain, which
// starts the drain and returns once it completes; if no termination follows
// within a second (a liveness restart of the app only), the drain is undone.
func adminHandler(term context.Context, d *Drainer, p *Prober) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/wait-for-drain", func(w http.ResponseWriter, r *http.Request) {
		t := time.AfterFunc(time.Second, func() {
			if term.Err() == nil {
				d.Reset()
			}
		})
		defer t.Stop()
		if err := d.Drain(r.Context()); err != nil {
			http.Error(w, "drain: "+err.Error(), http.StatusOK)
			return
		}
		w.Write([]byte("drained\n"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		serveHealth(w, r, d, p)
	})
	return mux
}

func metricsMux(m *Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	mux.Handle("/", m.Handler())
	return mux
}

// Command llmroute-sidecar is the llmroute proxy. It listens on loopback in
// every pod that opts in (or on a laptop), and makes the app's OpenAI and
// Anthropic SDK calls survive provider failures: retries with backoff,
// circuit breakers, fallback across providers and formats.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/net/netutil"

	"github.com/osmen-ai/llmroute/sidecar/config"
	"github.com/osmen-ai/llmroute/sidecar/proxy"
	"github.com/osmen-ai/llmroute/sidecar/reload"
)

// version is stamped at build time (-ldflags "-X main.version=...").
var version = "dev"

type options struct {
	config           string
	listen           string
	adminListen      string
	logFormat        string
	logLevel         string
	maxBodyBytes     int64
	maxBufferedBytes int64
	maxConnections   int
	drainTimeout     time.Duration
}

// The admin listener is reachable from the whole cluster: few connections,
// short timeouts, small headers, so no one can exhaust the sidecar through it.
const (
	adminMaxConnections = 32
	adminTimeout        = 10 * time.Second
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "llmroute-sidecar:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, out *os.File) (options, error) {
	var o options
	fs := flag.NewFlagSet("llmroute-sidecar", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.config, config.FlagConfig, "", "config file (YAML or JSON); required. It and the credential files it names (keys, tokens, client secrets) are watched and reloaded on change")
	fs.StringVar(&o.listen, config.FlagListen, config.DefaultListen, "address of the LLM proxy; keep it on loopback so other pods cannot use this pod's keys")
	fs.StringVar(&o.adminListen, config.FlagAdminListen, ":"+strconv.Itoa(config.DefaultAdminPort), "address of /healthz, /readyz and /metrics (and /debug/providers, which answers loopback only)")
	fs.StringVar(&o.logFormat, config.FlagLogFormat, config.LogFormats[0], "log format: "+strings.Join(config.LogFormats, " or "))
	fs.StringVar(&o.logLevel, config.FlagLogLevel, config.LogLevels[0], "log level: "+strings.Join(config.LogLevels, ", ")+" (debug adds fallback and retry details)")
	fs.Int64Var(&o.maxBodyBytes, "max-body-bytes", proxy.DefaultMaxBodyBytes, "largest request body accepted (larger requests get 413), and largest response held for a retry or a translation (larger ones are relayed as they arrive)")
	fs.Int64Var(&o.maxBufferedBytes, "max-buffered-bytes", proxy.DefaultMaxBufferedBytes, "bytes held in buffers across all requests at once; over it requests get 503 with Retry-After")
	fs.IntVar(&o.maxConnections, "max-connections", 1024, "connections the proxy listener accepts at once; more wait to be accepted")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM, how long requests in flight may take to finish")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: llmroute-sidecar --config FILE [flags]\n\n"+
			"Proxies OpenAI- and Anthropic-format LLM calls with retries, circuit breakers and fallback.\n"+
			"Point the app's SDK at it: OPENAI_BASE_URL=http://127.0.0.1:8089/v1, ANTHROPIC_BASE_URL=http://127.0.0.1:8089.\n\nFlags:\n")
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "false" {
				def = fmt.Sprintf(" (default %q)", f.DefValue)
			}
			fmt.Fprintf(out, "  --%s\n\t%s%s\n", f.Name, f.Usage, def)
		})
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if *showVersion {
		fmt.Fprintln(out, "llmroute-sidecar", version)
		os.Exit(0)
	}
	if o.config == "" {
		fs.Usage()
		return o, errors.New("--config is required")
	}
	if o.maxConnections < 1 {
		return o, fmt.Errorf("--max-connections must be at least 1, not %d", o.maxConnections)
	}
	if !slices.Contains(config.LogFormats, o.logFormat) {
		return o, fmt.Errorf("--%s must be %s, not %q", config.FlagLogFormat, strings.Join(config.LogFormats, " or "), o.logFormat)
	}
	return o, nil
}

func newLogger(format, level string, out *os.File) (logr.Logger, error) {
	var lvl slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lvl = slog.LevelDebug // logr's V(1)
	case "info":
		lvl = slog.LevelInfo
	case "error":
		lvl = slog.LevelError
	default:
		return logr.Logger{}, fmt.Errorf("--%s must be one of %s, not %q", config.FlagLogLevel, strings.Join(config.LogLevels, ", "), level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewJSONHandler(out, opts)
	if format == "text" {
		h = slog.NewTextHandler(out, opts)
	}
	return logr.FromSlogHandler(h), nil
}

// newAdminServer serves the admin handler with every timeout set: a
// connection that sends nothing, or sends slowly, is closed.
func newAdminServer(h http.Handler, timeout time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: timeout,
		ReadTimeout:       timeout,
		WriteTimeout:      timeout,
		IdleTimeout:       timeout,
		MaxHeaderBytes:    16 << 10,
	}
}

func run(args []string, stderr *os.File) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log, err := newLogger(o.logFormat, o.logLevel, stderr)
	if err != nil {
		return err
	}
	cfg, err := config.Load(o.config)
	if err != nil {
		return fmt.Errorf("cannot start:\n%w", err)
	}
	px, err := proxy.New(cfg, proxy.Options{Log: log, MaxBodyBytes: o.maxBodyBytes, MaxBufferedBytes: o.maxBufferedBytes})
	if err != nil {
		return fmt.Errorf("cannot start:\n%w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	var listening atomic.Bool
	admin := newAdminServer(px.Admin(&listening), adminTimeout)
	adminLn, err := net.Listen("tcp", o.adminListen)
	if err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	adminLn = netutil.LimitListener(adminLn, adminMaxConnections)
	go func() {
		if err := admin.Serve(adminLn); !errors.Is(err, http.ErrServerClosed) {
			log.Error(err, "Admin listener stopped: /healthz, /readyz and /metrics are down")
		}
	}()
	defer admin.Close()

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("proxy listener: %w", err)
	}
	ln = netutil.LimitListener(ln, o.maxConnections)
	srv := &http.Server{
		Handler:           px,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		// No ReadTimeout or WriteTimeout: streams and WebSocket sessions last
		// as long as timeouts.request allows, and the proxy bounds the
		// reading of each request's body itself.
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	listening.Store(true)

	w := &reload.Watcher{File: o.config, Target: px, Log: log}
	watchEnded := make(chan struct{})
	go func() {
		defer close(watchEnded)
		if err := w.Run(ctx); err != nil {
			log.Error(err, "Config watch stopped: changes will not be reloaded")
		}
	}()
	// Announced once the files are watched, so a change made after the line
	// is seen.
	select {
	case <-w.Ready():
	case <-watchEnded:
	}
	// Written at every --log-level: whoever starts the sidecar on port 0
	// (its tests, the demo, the benchmark) reads the bound addresses here.
	announce, _ := newLogger(o.logFormat, "info", stderr)
	announce.Info("llmroute-sidecar serving", "version", version, "listen", ln.Addr().String(), "admin", adminLn.Addr().String(),
		"providers", len(cfg.Providers), "rules", len(cfg.Rules))

	select {
	case err := <-served:
		return fmt.Errorf("proxy listener: %w", err)
	case <-ctx.Done():
	}
	// SIGTERM: stop taking requests, let those in flight finish, then exit 0.
	listening.Store(false)
	log.Info("Draining: finishing requests in flight", "timeout", o.drainTimeout.String())
	dctx, cancel := context.WithTimeout(context.Background(), o.drainTimeout)
	defer cancel()
	if err := srv.Shutdown(dctx); err != nil {
		log.Error(err, "Drain timed out: requests still in flight were cut")
		srv.Close()
	}
	log.Info("Stopped")
	return nil
}

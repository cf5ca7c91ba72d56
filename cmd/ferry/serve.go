package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ferrybot/ferry/config"
	"github.com/ferrybot/ferry/storage"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, path := configFlags("serve", stderr)
	listen := fs.String("listen", "", "listen `address` (default: FERRY_LISTEN, then listen: in the configuration)")
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	cfg, src, err := readConfig(*path, stderr)
	if err != nil {
		return err
	}
	addr := firstOf(*listen, os.Getenv("FERRY_LISTEN"), cfg.Listen)
	baseURL := cfg.BaseURL
	if addr != cfg.Listen && baseURL == "http://"+cfg.Listen {
		baseURL = "http://" + addr // the default base URL follows the address
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a, err := newApp(ctx, cfg, src, baseURL, log, nil)
	if err != nil {
		return err
	}
	defer a.close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (set another address with --listen or FERRY_LISTEN)", addr, err)
	}
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	metricsSrv := a.metrics.server(cfg.Metrics)
	var metricsLn net.Listener
	if metricsSrv != nil {
		if metricsLn, err = net.Listen("tcp", metricsSrv.Addr); err != nil {
			ln.Close()
			return fmt.Errorf("listen on %s: %w (metrics.listen in %s)", metricsSrv.Addr, err, *path)
		}
	}
	srv.RegisterOnShutdown(a.web.Close) // end the event streams, which never end by themselves
	// The engine and the chats run until ferry stops, each in its goroutine.
	runCtx, stopServices := context.WithCancel(context.WithoutCancel(ctx))
	retention := storage.Retention{Bodies: cfg.Retention.Bodies, Deliveries: cfg.Retention.Deliveries}
	// SIGHUP reloads the configuration, as a change of its file does.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	services := append(a.replicaServices(runCtx), a.engine.Run, a.outbox.Run, func(ctx context.Context) error {
		return pruneDeliveries(ctx, a.store, retention, log)
	}, a.reload.watch(runCtx), func(ctx context.Context) error { return a.reload.onSignal(ctx, hup) })
	if a.slack != nil {
		services = append(services, a.slack.Run)
	}
	if a.ding != nil {
		services = append(services, a.ding.Run)
	}
	for _, f := range a.forges {
		services = append(services, f.Run)
	}
	if a.digests != nil {
		services = append(services, a.digests.Run)
	}
	servicesDone := make(chan error, len(services))
	for _, run := range services {
		go func() { servicesDone <- run(runCtx) }()
	}
	pending := len(services)
	serveDone := make(chan error, 2) // the main listener and the metrics one
	go func() { serveDone <- srv.Serve(ln) }()
	if metricsSrv != nil {
		go func() { serveDone <- metricsSrv.Serve(metricsLn) }()
		fmt.Fprintf(stdout, "ferry serves /metrics on %s\n", metricsLn.Addr())
	}
	fmt.Fprintf(stdout, "ferry is ready at %s (listening on %s)\n", baseURL, ln.Addr())

	select {
	case <-ctx.Done():
	case err = <-serveDone:
	case err = <-servicesDone:
		pending--
		err = fmt.Errorf("stopped unexpectedly: %v", err)
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	if metricsSrv != nil {
		metricsSrv.Shutdown(shutdownCtx)
	}
	stopServices()
	for ; pending > 0; pending-- {
		if e := <-servicesDone; e != nil && err == nil {
			err = e
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// configFlags starts the flags of a subcommand that reads a configuration:
// --config, defaulting to FERRY_CONFIG, then ferry.yaml.
func configFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs, fs.String("config", envOr("FERRY_CONFIG", "ferry.yaml"), "configuration `file`")
}

// loadConfig loads a configuration, printing its problems one per line.
func loadConfig(path string, stderr io.Writer) (*config.Config, error) {
	cfg, _, err := readConfig(path, stderr)
	return cfg, err
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

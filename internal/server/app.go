// Package app assembles a hookbook instance from its configuration: store,
// delivery engine, hub and HTTP handlers. cmd/hookbook and the end-to-end
// tests both start hookbook through it.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	httpapi "github.com/hookbook/hookbook/internal/httpapi"
	"github.com/hookbook/hookbook/internal/booking"
	"github.com/hookbook/hookbook/internal/config"
	"github.com/hookbook/hookbook/internal/delivery"
	outbound "github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/ids"
	"github.com/hookbook/hookbook/internal/inbound"
	"github.com/hookbook/hookbook/internal/metrics"
	"github.com/hookbook/hookbook/internal/store"
	admin "github.com/hookbook/hookbook/internal/admin"
)

// App is one running hookbook instance.
type App struct {
	Config     *config.Config
	Store      *store.Store
	Hub        *outbound.Hub
	Dispatcher *delivery.Dispatcher
	API        *httpapi.Server
	Guard      *delivery.Guard
	Metrics    *metrics.Metrics
	Booking    *booking.Domain
	Inbound    *inbound.Service
	UI         *admin.UI
	Log        *slog.Logger
	// InstanceID names this process in leases and logs.
	InstanceID string
}

// New opens the database, applies migrations and wires an instance.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	if log == nil {
		log = slog.Default()
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if st.Dialect() == store.SQLite {
		if err := st.ReleaseAllLeases(ctx); err != nil {
			st.Close()
			return nil, err
		}
	}
	a := &App{Config: cfg, Store: st, Log: log, InstanceID: ids.New("ins")}
	a.Guard = &delivery.Guard{Enabled: cfg.Production(), Allowed: cfg.AllowedNetworks}
	sender := delivery.NewSender(a.Guard, cfg.HeaderPrefix, cfg.EndpointConcurrency)
	a.Dispatcher = &delivery.Dispatcher{
		Store: st, Sender: sender, Policy: delivery.Policy{Schedule: cfg.RetrySchedule, Jitter: 0.2},
		Breaker: delivery.NewBreaker(cfg.BreakerThreshold, cfg.BreakerCooldown), Owner: a.InstanceID, Workers: cfg.Workers, PerEndpoint: cfg.EndpointConcurrency,
		Lease: cfg.Lease, PollInterval: cfg.PollInterval, Log: log,
	}
	st.Notify = a.Dispatcher.Wake
	a.Hub = &outbound.Hub{Store: st, Guard: a.Guard, SecretOverlap: cfg.SecretOverlap, HeaderPrefix: cfg.HeaderPrefix,
		EndpointChanged: a.Dispatcher.Breaker.Reset}
	a.Metrics = metrics.New(st, a.Dispatcher.Breaker, log)
	a.Dispatcher.Hooks.Attempted = a.Metrics.Observe
	a.Booking = &booking.Domain{Store: st}
	a.API = &httpapi.Server{Hub: a.Hub, Store: st, Log: log}
	a.Inbound = &inbound.Service{Store: st, Booking: a.Booking, Now: st.Now}
	a.UI = &admin.UI{Store: st, Hub: a.Hub, Inbound: a.Inbound, Production: cfg.Production(), Log: log}
	a.API.Extra = append(append(a.API.BookingRoutes(a.Booking), a.API.InboundRoutes(a.Inbound, cfg.HeaderPrefix)...),
		httpapi.Route{Method: "GET", Pattern: "/metrics", Handler: a.Metrics.Handler(), Public: true})
	return a, nil
}

// Bootstrap creates the default organization on first start and prints a
// generated key once to stderr.
func (a *App) Bootstrap(ctx context.Context) error {
	org, key, err := a.Store.Bootstrap(ctx, a.Config.BootstrapAPIKey)
	if err != nil {
		return err
	}
	if org != nil {
		a.Log.Info("created the default organization", "organization_id", org.ID)
		if a.Config.BootstrapAPIKey == "" {
			fmt.Fprintf(os.Stderr, "hookbook: created organization %q (%s); its API key, shown only now: %s\n", org.Name, org.ID, key)
		}
	}
	return nil
}

// Handler returns the HTTP handler of the instance: the JSON API and, on
// its own paths, the admin UI.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", a.API.Handler())
	ui := a.UI.Handler()
	for _, p := range admin.Paths {
		mux.Handle(p, ui)
	}
	return mux
}

// Serve runs the HTTP server on ln and the delivery engine until ctx is
// done, then shuts down gracefully: it stops taking requests, lets attempts
// in flight finish (bounded by their timeouts) and records their outcomes.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	engineCtx, stopEngine := context.WithCancel(context.Background())
	engineDone := make(chan struct{})
	go func() {
		a.Dispatcher.Run(engineCtx)
		close(engineDone)
	}()
	a.Dispatcher.Wake()
	jobsCtx, stopJobs := context.WithCancel(ctx)
	defer stopJobs()
	a.runJobs(jobsCtx)
	go a.Store.Listen(jobsCtx, a.Config.DatabaseURL, a.Dispatcher.Wake, a.Log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	a.Log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		a.Log.Error("http shutdown", "err", err)
	}
	stopEngine()
	select {
	case <-engineDone:
	case <-shutCtx.Done():
		a.Log.Error("delivery engine did not stop in time; unfinished deliveries resume after their lease")
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// Close releases the database.
func (a *App) Close() error { return a.Store.Close() }

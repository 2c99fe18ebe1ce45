// Package server assembles a hookbook instance from its configuration:
// database, delivery engine, outbound service, booking domain, inbound
// commands and HTTP handlers. cmd/hookbook and the tests (through
// internal/hookbooktest) both start hookbook through it.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/destination"
	"github.com/hookbook/hookbook/internal/idempotency"
	"github.com/hookbook/hookbook/internal/netguard"
	"github.com/hookbook/hookbook/internal/ratelimit"

	admin "github.com/hookbook/hookbook/internal/admin"
	"github.com/hookbook/hookbook/internal/booking"
	"github.com/hookbook/hookbook/internal/config"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/delivery"
	httpapi "github.com/hookbook/hookbook/internal/httpapi"
	"github.com/hookbook/hookbook/internal/ids"
	"github.com/hookbook/hookbook/internal/inbound"
	"github.com/hookbook/hookbook/internal/mail"
	"github.com/hookbook/hookbook/internal/metrics"
	"github.com/hookbook/hookbook/internal/org"
	outbound "github.com/hookbook/hookbook/internal/outbound"
	"github.com/hookbook/hookbook/internal/queue"
	"github.com/hookbook/hookbook/internal/relay"
	"github.com/hookbook/hookbook/internal/session"
	"github.com/hookbook/hookbook/internal/tracing"
)

// App is one running hookbook instance.
type App struct {
	Config     *config.Config
	DB         *db.DB
	Orgs       *org.Service
	Outbound   *outbound.Service
	Queue      *queue.Queue
	Dispatcher *delivery.Dispatcher
	API        *httpapi.Server
	Guard      *netguard.Guard
	// Brokers is the Sender of broker endpoints (one connection per
	// endpoint and config).
	Brokers *delivery.BrokerSender
	Metrics *metrics.Metrics
	Booking *booking.Domain
	Inbound *inbound.Service
	UI      *admin.UI
	Log     *slog.Logger
	// Relay holds this instance's `hookbook listen` connections.
	Relay *relay.Hub
	// Tracing exports the instance's spans; nil when tracing is off.
	Tracing *tracing.Provider
	// Mailer sends alert mails (nil: HOOKBOOK_SMTP_URL is unset).
	Mailer *mail.Mailer
	// InstanceID names this process in leases and logs.
	InstanceID string
	// MetricsListener, when set, serves /metrics instead of a listener
	// that Serve opens on HOOKBOOK_METRICS_ADDR.
	MetricsListener net.Listener

	jobMu     sync.Mutex
	jobPasses map[string]int64
	// replayWake starts the replay job's next pass at once.
	replayWake chan struct{}
}

// New opens the database, applies migrations and wires an instance.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	if log != nil && cfg.Lease <= config.MaxEndpointTimeout {
		log.Warn("HOOKBOOK_LEASE is not longer than the longest endpoint timeout: another instance may take over a delivery still being sent (refused in production)",
			"lease", cfg.Lease.String(), "longest_timeout", config.MaxEndpointTimeout.String())
	}
	if cfg.TLSCertFile != "" {
		if _, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile); err != nil {
			return nil, fmt.Errorf("HOOKBOOK_TLS_CERT_FILE, HOOKBOOK_TLS_KEY_FILE: %w", err)
		}
	}
	if log == nil {
		log = slog.Default()
	}
	d, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := d.Own(); errors.Is(err, db.ErrCannotLock) {
		log.Warn("the SQLite file cannot be locked on its file system: make sure no second hookbook server uses it", "err", err)
	} else if err != nil {
		d.Close()
		return nil, err
	}
	a := &App{Config: cfg, DB: d, Log: log, InstanceID: ids.New("ins")}
	if a.Tracing, err = tracing.New(ctx, cfg.Tracing, a.InstanceID); err != nil {
		d.Close()
		return nil, err
	}
	tracer := a.Tracing.Tracer()
	a.Orgs = &org.Service{DB: d}
	a.Guard = &netguard.Guard{Enabled: cfg.Production(), Allowed: cfg.AllowedNetworks}
	a.Queue = &queue.Queue{DB: d}
	offered, missing, err := destination.Offer(destinationTypes(), cfg.DestinationTypes)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("HOOKBOOK_DESTINATION_TYPES: %w", err)
	}
	if len(missing) > 0 {
		log.Info("HOOKBOOK_DESTINATION_TYPES names types this build does not have: they are not offered", "types", strings.Join(missing, ","))
	}
	a.Outbound = &outbound.Service{DB: d, Guard: a.Guard, SecretOverlap: cfg.SecretOverlap, HeaderPrefix: cfg.HeaderPrefix, Queue: a.Queue,
		TransformTimeout: cfg.TransformTimeout, Destinations: offered,
		Limits: outbound.Limits{Endpoints: cfg.MaxEndpoints, EventTypes: cfg.MaxEventTypes, TestSends: ratelimit.NewBuckets(cfg.TestSendLimit),
			TransformTests: ratelimit.NewBuckets(cfg.TestSendLimit)}}
	a.Queue.Endpoints = a.Outbound
	a.Queue.Outcomes = a.Outbound.Outcomes
	a.Outbound.FailingAfter, a.Outbound.PublicURL = cfg.FailingAfter, cfg.PublicURL
	if cfg.SMTPURL != "" {
		if a.Mailer, err = mail.New(cfg.SMTPURL, cfg.SMTPFrom); err != nil {
			d.Close()
			return nil, fmt.Errorf("HOOKBOOK_SMTP_URL: %w", err)
		}
		a.Outbound.MailAlerts = true
	}
	a.Outbound.Log = log
	a.Outbound.Tracer = tracer
	a.replayWake = make(chan struct{}, 1)
	a.Outbound.ReplayStarted = func() {
		select {
		case a.replayWake <- struct{}{}:
		default:
		}
	}
	if err := a.migrate(ctx); err != nil {
		d.Close()
		return nil, err
	}
	webhooks := delivery.NewWebhookSenderVia(&delivery.Egress{Guard: a.Guard, Proxy: cfg.ProxyURL, NoProxy: delivery.ParseNoProxy(cfg.NoProxy)},
		cfg.HeaderPrefix, cfg.EndpointConcurrency)
	webhooks.Transforms = a.Outbound.TransformEngine()
	senders := delivery.Senders{delivery.KindWebhook: webhooks}
	a.Relay = &relay.Hub{Seen: a.Outbound.ListenerSeen, Heartbeat: ListenHeartbeat(cfg.ListenGrace), Log: log,
		Back: func(ctx context.Context, endpointID string) {
			if _, err := a.Queue.Hasten(ctx, endpointID); err != nil {
				log.Error("listener: make its waiting deliveries due", "endpoint_id", endpointID, "err", err)
			}
		}}
	senders[hookbook.EndpointListen] = &relay.Sender{Hub: a.Relay, Headers: webhooks.Headers, HeaderPrefix: cfg.HeaderPrefix}
	a.Brokers = delivery.NewBrokerSender(offered, a.Guard, webhooks)
	for _, kind := range a.Brokers.Kinds() {
		senders[kind] = a.Brokers
	}
	a.Dispatcher = &delivery.Dispatcher{
		Queue: a.Queue, Senders: senders, Policy: delivery.Policy{Schedule: cfg.RetrySchedule, Jitter: 0.2},
		Breaker: delivery.NewBreaker(cfg.BreakerThreshold, cfg.BreakerCooldown), Owner: a.InstanceID, Workers: cfg.Workers, PerEndpoint: cfg.EndpointConcurrency,
		Lease: cfg.Lease, PollInterval: cfg.PollInterval, Log: log, Tracer: tracer,
	}
	a.Queue.Notify = a.Dispatcher.Wake
	a.Queue.NotifyAt = a.Dispatcher.WakeAt
	a.Queue.Engine = a.Dispatcher
	a.Outbound.EndpointChanged = func(id string) {
		a.Dispatcher.Breaker.Reset(id)
		a.Brokers.Forget(id)
	}
	a.Metrics = metrics.New(a.Outbound, a.Queue, a.Dispatcher.Breaker, log)
	a.Dispatcher.Hooks.Attempted = a.Metrics.Observe
	a.Outbound.Stored = a.Metrics.EventStored
	a.Metrics.WatchPools(d.Pools())
	a.Booking = &booking.Domain{DB: d, Outbound: a.Outbound}
	a.API = &httpapi.Server{Outbound: a.Outbound, Orgs: a.Orgs, Ready: d.Ready, Log: log,
		RateLimit: ratelimit.NewBuckets(cfg.APIRateLimit), HeaderPrefix: cfg.HeaderPrefix, Idempotency: &idempotency.Store{DB: d}, MaxRetention: cfg.Retention}
	a.Inbound = &inbound.Service{DB: d, Orgs: a.Orgs, Booking: a.Booking, HeaderPrefix: cfg.HeaderPrefix, Logger: log, Tracer: tracer,
		Executed: a.Metrics.ObserveCommand}
	a.UI = &admin.UI{DB: d, Sessions: &session.Store{DB: d, Orgs: a.Orgs, Catalog: a.Outbound}, Orgs: a.Orgs, Outbound: a.Outbound, Inbound: a.Inbound, Production: cfg.Production(), Log: log, Circuit: a.Dispatcher.Breaker, MaxRetention: cfg.Retention,
		Portal: admin.Portal{Name: cfg.Portal.Name, Accent: cfg.Portal.Accent, LogoURL: cfg.Portal.LogoURL,
			FrameAncestors: cfg.Portal.FrameAncestors,
			Secure:         cfg.TLSCertFile != "" || strings.HasPrefix(cfg.PublicURL, "https://")}}
	a.API.Extra = append(a.API.BookingRoutes(a.Booking), a.API.InboundRoutes(a.Inbound)...)
	a.API.Extra = append(a.API.Extra, a.API.PortalRoutes(a.UI.Sessions, cfg.PublicURL)...)
	a.API.Extra = append(a.API.Extra, a.API.ListenRoutes(a.Relay)...)
	if cfg.MetricsAddr == "" {
		a.API.Extra = append(a.API.Extra, httpapi.Route{Method: "GET", Pattern: "/metrics", Handler: a.Metrics.Handler(), Public: true})
	}
	return a, nil
}

// migrate applies the schema migrations.
// A SQLite database belongs to this process alone, so leases left by a
// process that died are released at once.
func (a *App) migrate(ctx context.Context) error {
	if err := a.DB.Migrate(ctx); err != nil {
		return err
	}
	if !a.DB.Shared() {
		return a.Queue.ReleaseAllLeases(ctx)
	}
	return nil
}

// Bootstrap creates the default organization on first start and prints a
// generated key once to stderr.
func (a *App) Bootstrap(ctx context.Context) error {
	o, key, err := a.Orgs.Bootstrap(ctx, a.Config.BootstrapAPIKey)
	if err != nil {
		return err
	}
	if o == nil && a.Config.BootstrapAPIKey != "" {
		// The database had organizations already: the key was not used.
		if _, err := a.Orgs.OrganizationByAPIKey(ctx, a.Config.BootstrapAPIKey); err != nil {
			a.Log.Warn("HOOKBOOK_BOOTSTRAP_API_KEY is ignored: this database already has organizations, and the key is none of theirs; use a new database, or create a key with 'hookbook key create'",
				"database", a.DB.Name())
		}
	}
	if o != nil {
		a.Log.Info("created the default organization", "organization_id", o.ID)
		switch {
		case a.Config.BootstrapAPIKey != "":
		case a.Config.LogFormat == "json":
			// JSON logs go to collectors, where a key must never land.
			a.Log.Warn("the default organization's generated API key is not shown in JSON logs; create one with the CLI",
				"command", "hookbook key create --org "+o.ID+" --name admin")
		default:
			fmt.Fprintf(os.Stderr, "hookbook: created organization %q (%s); its API key, shown only now: %s\n", o.Name, o.ID, key)
		}
	}
	return nil
}

// HSTS is the Strict-Transport-Security header of an instance reached over
// https: browsers use only https for its host for a year.
const HSTS = "max-age=31536000"

// Handler returns the HTTP handler of the instance: the JSON API and, on
// its own paths, the admin UI. When it is reached over https (it serves
// TLS, or HOOKBOOK_PUBLIC_URL is https behind a proxy) every answer has the
// HSTS header.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", a.API.Handler())
	ui := a.UI.Handler()
	for _, p := range admin.Paths {
		mux.Handle(p, ui)
	}
	var h http.Handler = mux
	if a.Config.TLSCertFile != "" || strings.HasPrefix(strings.ToLower(a.Config.PublicURL), "https://") {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Strict-Transport-Security", HSTS)
			mux.ServeHTTP(w, r)
		})
	}
	return logRequests(a.Log, a.Config.TrustedProxies, a.Tracing.Tracer(), a.Metrics.ObserveRequest, h)
}

// Serve runs the HTTP server on ln and the delivery engine until ctx is
// done, then shuts down gracefully: it stops taking requests, lets attempts
// in flight finish (bounded by their timeouts) and records their outcomes.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	srv.RegisterOnShutdown(a.Relay.Close) // listen connections are hijacked: Shutdown does not close them
	errc := make(chan error, 2)
	if mln := a.MetricsListener; mln != nil || a.Config.MetricsAddr != "" {
		if mln == nil {
			var err error
			if mln, err = net.Listen("tcp", a.Config.MetricsAddr); err != nil {
				return fmt.Errorf("metrics listener: %w", err)
			}
		}
		mmux := http.NewServeMux()
		mmux.Handle("GET /metrics", nosniff(a.Metrics.Handler()))
		msrv := &http.Server{Handler: logRequests(a.Log, nil, nil, a.Metrics.ObserveRequest, mmux), ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- msrv.Serve(mln) }()
		defer msrv.Close()
		a.Log.Info("metrics listening", "addr", mln.Addr().String())
	}
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
	go a.Queue.Listen(jobsCtx, a.Dispatcher.Wake, a.Log)
	go func() {
		if a.Config.TLSCertFile != "" {
			errc <- srv.ServeTLS(ln, a.Config.TLSCertFile, a.Config.TLSKeyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
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
	a.Relay.Close()
	stopEngine()
	select {
	case <-engineDone:
	case <-shutCtx.Done():
		a.Log.Error("delivery engine did not stop in time; unfinished deliveries resume after their lease")
	}
	// The spans of the last requests and attempts go out before the exit.
	if err := a.Tracing.Flush(shutCtx); err != nil {
		a.Log.Warn("tracing: spans not exported at shutdown", "err", err)
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// ListenHeartbeat is how often listen connections are pinged and marked
// seen for a grace period: often enough that a live one is never taken
// for gone, at most every 15 s.
func ListenHeartbeat(grace time.Duration) time.Duration {
	return clamp(grace/4, 10*time.Millisecond, relay.DefaultHeartbeat)
}

// Close stops the trace exporter (sending the spans left, for at most 5 s)
// closes the broker connections and releases the database.
func (a *App) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Tracing.Shutdown(ctx); err != nil {
		a.Log.Warn("tracing: spans not exported at shutdown", "err", err)
	}
	if a.Brokers != nil {
		a.Brokers.Close()
	}
	return a.DB.Close()
}

// nosniff marks answers as the type they say they are, as the main
// listener's are: the metrics listener serves text that a browser must not
// read as anything else.
func nosniff(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

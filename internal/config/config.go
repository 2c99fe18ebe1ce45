// Package config reads hookbook's configuration from the environment.
package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookbook/hookbook/internal/destination"
	"github.com/hookbook/hookbook/internal/mail"
	"github.com/hookbook/hookbook/internal/ratelimit"
)

// Config is hookbook's configuration. Zero values are never used: Load fills
// every field with its documented default.
type Config struct {
	Addr            string          // HOOKBOOK_ADDR
	DatabaseURL     string          // HOOKBOOK_DATABASE_URL
	Env             string          // HOOKBOOK_ENV: development or production
	BootstrapAPIKey string          // HOOKBOOK_BOOTSTRAP_API_KEY
	HeaderPrefix    string          // HOOKBOOK_HEADER_PREFIX
	RetrySchedule   []time.Duration // HOOKBOOK_RETRY_SCHEDULE
	AllowedNetworks []netip.Prefix  // HOOKBOOK_ALLOWED_NETWORKS
	DisableAfter    time.Duration   // HOOKBOOK_DISABLE_AFTER
	Retention       time.Duration   // HOOKBOOK_RETENTION
	LogFormat       string          // HOOKBOOK_LOG_FORMAT: text or json
	TLSCertFile     string          // HOOKBOOK_TLS_CERT_FILE: serve HTTPS with this certificate (PEM)…
	TLSKeyFile      string          // HOOKBOOK_TLS_KEY_FILE: …and this key
	TrustedProxies  []netip.Prefix  // HOOKBOOK_TRUSTED_PROXIES: whose X-Forwarded-For is believed
	MetricsAddr     string          // HOOKBOOK_METRICS_ADDR: serve /metrics here instead of on Addr
	PublicURL       string          // HOOKBOOK_PUBLIC_URL: how browsers reach hookbook (portal links)
	// ProxyURL is the forward proxy every delivery and token request
	// leaves through (HOOKBOOK_PROXY_URL: http, https or socks5, with
	// credentials), nil for none; NoProxy the destinations that go
	// straight (HOOKBOOK_NO_PROXY).
	ProxyURL *url.URL
	NoProxy  string
	// DestinationTypes are the broker types endpoints may have besides
	// webhooks (HOOKBOOK_DESTINATION_TYPES: comma-separated names, default
	// all of destination.Names; "none" offers webhooks only).
	DestinationTypes []string

	// The customers' webhook portal.
	Portal Portal

	// Tracing is the OpenTelemetry trace export, off unless an OTLP
	// endpoint is set.
	Tracing Tracing
	// Alerts to the people who own endpoints.
	SMTPURL      string // HOOKBOOK_SMTP_URL: smtp://user:pass@host:port (STARTTLS when offered) or smtps://…; unset: no alert mail
	SMTPFrom     string // HOOKBOOK_SMTP_FROM: the sender of alert mails (required with HOOKBOOK_SMTP_URL)
	FailingAfter int    // HOOKBOOK_FAILING_AFTER: the attempt whose failure reports a delivery failing (delivery.failing, the failing mail)

	// Tuning knobs, documented in the README.
	SecretOverlap       time.Duration // HOOKBOOK_SECRET_OVERLAP: old secret keeps signing after rotation
	Workers             int           // HOOKBOOK_WORKERS: concurrent attempts per instance
	EndpointConcurrency int           // HOOKBOOK_ENDPOINT_CONCURRENCY: concurrent attempts per endpoint
	Lease               time.Duration // HOOKBOOK_LEASE: how long a claimed delivery stays with its worker
	PollInterval        time.Duration // HOOKBOOK_POLL_INTERVAL: fallback queue poll
	ShutdownTimeout     time.Duration // HOOKBOOK_SHUTDOWN_TIMEOUT
	ReminderInterval    time.Duration // HOOKBOOK_REMINDER_INTERVAL: how often due reminders are looked for
	BreakerThreshold    int           // HOOKBOOK_BREAKER_THRESHOLD: failures in a row that open an endpoint's circuit
	BreakerCooldown     time.Duration // HOOKBOOK_BREAKER_COOLDOWN: first pause of an open circuit (doubles, up to 5 min)
	TransformTimeout    time.Duration // HOOKBOOK_TRANSFORM_TIMEOUT: CPU time one run of a transformation may take (at most 10s)
	ListenGrace         time.Duration // HOOKBOOK_LISTEN_GRACE: how long a listener's endpoint outlives its connection

	// Limits, documented in the README.
	APIRateLimit  ratelimit.Rate // HOOKBOOK_API_RATE_LIMIT: requests per API key, per instance
	TestSendLimit ratelimit.Rate // HOOKBOOK_TEST_SEND_LIMIT: test events per organization, per instance
	MaxEndpoints  int            // HOOKBOOK_MAX_ENDPOINTS: endpoints per organization, at most MaxEndpointsBound
	MaxEventTypes int            // HOOKBOOK_MAX_EVENT_TYPES: custom event types per organization
}

// Portal is how the embeddable webhook portal looks and who may frame it.
type Portal struct {
	Name           string   // HOOKBOOK_PORTAL_NAME: the product name in its header
	Accent         string   // HOOKBOOK_PORTAL_ACCENT: colour of links and buttons, #rrggbb
	LogoURL        string   // HOOKBOOK_PORTAL_LOGO_URL: an http(s) image shown beside the name
	FrameAncestors []string // HOOKBOOK_PORTAL_FRAME_ANCESTORS: origins that may frame it, or 'none'
}

// Tracing is read from the standard OpenTelemetry variables.
type Tracing struct {
	// Endpoint is where spans go (OTLP over HTTP, protobuf): the
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, or the
	// OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces appended; "" is off.
	Endpoint    string
	ServiceName string  // OTEL_SERVICE_NAME, "hookbook" when unset
	Sampler     string  // OTEL_TRACES_SAMPLER, parentbased_always_on when unset
	SamplerArg  float64 // OTEL_TRACES_SAMPLER_ARG: the ratio of the traceidratio samplers, 1 when unset
}

// Enabled reports whether spans are exported.
func (t Tracing) Enabled() bool { return t.Endpoint != "" }

// Samplers are the values OTEL_TRACES_SAMPLER may take.
var Samplers = []string{"always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"}

// loadTracing reads the OTEL_* variables. OTEL_SDK_DISABLED=true or
// OTEL_TRACES_EXPORTER=none turn tracing off whatever the endpoint.
func (c *Config) loadTracing(get func(k, def string) string) error {
	t := Tracing{ServiceName: get("OTEL_SERVICE_NAME", "hookbook"), Sampler: strings.ToLower(get("OTEL_TRACES_SAMPLER", "parentbased_always_on")), SamplerArg: 1}
	key := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	if e := get(key, ""); e != "" {
		t.Endpoint = e
	} else if e := get("OTEL_EXPORTER_OTLP_ENDPOINT", ""); e != "" {
		key, t.Endpoint = "OTEL_EXPORTER_OTLP_ENDPOINT", strings.TrimRight(e, "/")+"/v1/traces"
	}
	if t.Endpoint != "" {
		u, err := url.Parse(t.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s: %q is not an http(s) URL such as http://127.0.0.1:4318", key, t.Endpoint)
		}
	}
	if !slices.Contains(Samplers, t.Sampler) {
		return fmt.Errorf("OTEL_TRACES_SAMPLER: %q is none of %s", t.Sampler, strings.Join(Samplers, ", "))
	}
	if raw := get("OTEL_TRACES_SAMPLER_ARG", ""); raw != "" && strings.HasSuffix(t.Sampler, "traceidratio") {
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil || v < 0 || v > 1 {
			return fmt.Errorf("OTEL_TRACES_SAMPLER_ARG: %q is not a ratio from 0 to 1", raw)
		}
		t.SamplerArg = v
	}
	if strings.EqualFold(get("OTEL_SDK_DISABLED", ""), "true") || strings.EqualFold(get("OTEL_TRACES_EXPORTER", ""), "none") {
		t.Endpoint = ""
	}
	c.Tracing = t
	return nil
}

// Production reports whether the network guard and https rule apply.
func (c *Config) Production() bool { return c.Env == "production" }

// DefaultRetrySchedule is the delay before attempts 2, 3, …; the last repeats.
const DefaultRetrySchedule = "5s,5m,30m,2h,5h,10h,10h"

// MaxEndpointTimeout is the longest timeout an endpoint may have (the one
// home of the rule: endpoint validation reads it); a lease must outlast it.
const MaxEndpointTimeout = 30 * time.Second

// MaxEndpointsBound is the most HOOKBOOK_MAX_ENDPOINTS may allow: one
// event fans out to at most that many deliveries, each an insert of its
// publication's transaction.
const MaxEndpointsBound = 10000

// MaxTransformTimeout bounds HOOKBOOK_TRANSFORM_TIMEOUT: a transformation
// runs before its attempt, on a worker of the engine.
const MaxTransformTimeout = 10 * time.Second

// MinAPIKeyLength is the shortest bootstrap API key accepted.
const MinAPIKeyLength = 32

// Load reads the configuration from getenv (os.Getenv when nil).
func Load(getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	c := &Config{
		Addr:            get("HOOKBOOK_ADDR", ":8080"),
		DatabaseURL:     get("HOOKBOOK_DATABASE_URL", "sqlite:hookbook.db"),
		Env:             get("HOOKBOOK_ENV", "development"),
		BootstrapAPIKey: get("HOOKBOOK_BOOTSTRAP_API_KEY", ""),
		HeaderPrefix:    get("HOOKBOOK_HEADER_PREFIX", "X-Hookbook"),
		LogFormat:       get("HOOKBOOK_LOG_FORMAT", "text"),
		TLSCertFile:     get("HOOKBOOK_TLS_CERT_FILE", ""),
		TLSKeyFile:      get("HOOKBOOK_TLS_KEY_FILE", ""),
		MetricsAddr:     get("HOOKBOOK_METRICS_ADDR", ""),
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return nil, fmt.Errorf("HOOKBOOK_TLS_CERT_FILE and HOOKBOOK_TLS_KEY_FILE: set both (HTTPS) or neither (HTTP)")
	}
	if k := c.BootstrapAPIKey; k != "" && len(k) < MinAPIKeyLength {
		return nil, fmt.Errorf("HOOKBOOK_BOOTSTRAP_API_KEY: %d characters is too short to be safe; use at least %d (leave it unset and hookbook generates one)", len(k), MinAPIKeyLength)
	}
	if c.Env != "development" && c.Env != "production" {
		return nil, fmt.Errorf("HOOKBOOK_ENV: %q is neither development nor production", c.Env)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return nil, fmt.Errorf("HOOKBOOK_LOG_FORMAT: %q is neither text nor json", c.LogFormat)
	}
	var err error
	if c.RetrySchedule, err = ParseSchedule(get("HOOKBOOK_RETRY_SCHEDULE", DefaultRetrySchedule)); err != nil {
		return nil, fmt.Errorf("HOOKBOOK_RETRY_SCHEDULE: %w", err)
	}
	if c.AllowedNetworks, err = ParseNetworks(get("HOOKBOOK_ALLOWED_NETWORKS", "")); err != nil {
		return nil, fmt.Errorf("HOOKBOOK_ALLOWED_NETWORKS: %w", err)
	}
	if c.DestinationTypes, err = ParseDestinationTypes(get("HOOKBOOK_DESTINATION_TYPES", strings.Join(destination.Names, ","))); err != nil {
		return nil, fmt.Errorf("HOOKBOOK_DESTINATION_TYPES: %w", err)
	}
	if c.TrustedProxies, err = ParseNetworks(get("HOOKBOOK_TRUSTED_PROXIES", "")); err != nil {
		return nil, fmt.Errorf("HOOKBOOK_TRUSTED_PROXIES: %w", err)
	}
	if c.ProxyURL, err = ParseProxyURL(get("HOOKBOOK_PROXY_URL", "")); err != nil {
		return nil, fmt.Errorf("HOOKBOOK_PROXY_URL: %w", err)
	}
	c.NoProxy = get("HOOKBOOK_NO_PROXY", "")
	durations := []struct {
		key string
		def string
		dst *time.Duration
	}{
		{"HOOKBOOK_DISABLE_AFTER", "120h", &c.DisableAfter},
		{"HOOKBOOK_RETENTION", "720h", &c.Retention},
		{"HOOKBOOK_SECRET_OVERLAP", "24h", &c.SecretOverlap},
		{"HOOKBOOK_LEASE", "90s", &c.Lease},
		{"HOOKBOOK_POLL_INTERVAL", "1s", &c.PollInterval},
		{"HOOKBOOK_SHUTDOWN_TIMEOUT", "40s", &c.ShutdownTimeout},
		{"HOOKBOOK_REMINDER_INTERVAL", "10s", &c.ReminderInterval},
		{"HOOKBOOK_BREAKER_COOLDOWN", "5s", &c.BreakerCooldown},
		{"HOOKBOOK_TRANSFORM_TIMEOUT", "100ms", &c.TransformTimeout},
		{"HOOKBOOK_LISTEN_GRACE", "1h", &c.ListenGrace},
	}
	for _, d := range durations {
		raw := get(d.key, d.def)
		v, err := time.ParseDuration(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a duration; write one such as %s (units ms, s, m, h)", d.key, raw, d.def)
		}
		if v <= 0 {
			return nil, fmt.Errorf("%s: %s is not positive; write a duration such as %s", d.key, raw, d.def)
		}
		*d.dst = v
	}
	ints := []struct {
		key string
		def int
		dst *int
	}{
		{"HOOKBOOK_WORKERS", 256, &c.Workers},
		{"HOOKBOOK_ENDPOINT_CONCURRENCY", 16, &c.EndpointConcurrency},
		{"HOOKBOOK_BREAKER_THRESHOLD", 10, &c.BreakerThreshold},
		{"HOOKBOOK_MAX_ENDPOINTS", 100, &c.MaxEndpoints},
		{"HOOKBOOK_MAX_EVENT_TYPES", 200, &c.MaxEventTypes},
		{"HOOKBOOK_FAILING_AFTER", 3, &c.FailingAfter},
	}
	for _, n := range ints {
		v, err := strconv.Atoi(get(n.key, strconv.Itoa(n.def)))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%s: want a positive whole number", n.key)
		}
		*n.dst = v
	}
	if c.MaxEndpoints > MaxEndpointsBound {
		return nil, fmt.Errorf("HOOKBOOK_MAX_ENDPOINTS: %d is more than %d endpoints per organization", c.MaxEndpoints, MaxEndpointsBound)
	}
	if c.TransformTimeout > MaxTransformTimeout {
		return nil, fmt.Errorf("HOOKBOOK_TRANSFORM_TIMEOUT: %s is longer than %s", c.TransformTimeout, MaxTransformTimeout)
	}
	// A lease shorter than an attempt may run lets another instance take a
	// delivery over while it is still being sent.
	if c.Lease <= MaxEndpointTimeout && c.Production() {
		return nil, fmt.Errorf("HOOKBOOK_LEASE: %s is not longer than the longest endpoint timeout (%s); use at least %s",
			c.Lease, MaxEndpointTimeout, MaxEndpointTimeout+5*time.Second)
	}
	rates := []struct {
		key string
		def string
		dst *ratelimit.Rate
	}{
		{"HOOKBOOK_API_RATE_LIMIT", "1000/s", &c.APIRateLimit},
		{"HOOKBOOK_TEST_SEND_LIMIT", "60/m", &c.TestSendLimit},
	}
	for _, r := range rates {
		if *r.dst, err = ratelimit.ParseRate(get(r.key, r.def)); err != nil {
			return nil, fmt.Errorf("%s: %w", r.key, err)
		}
	}
	if err := c.loadPortal(get); err != nil {
		return nil, err
	}
	if err := c.loadTracing(get); err != nil {
		return nil, err
	}
	if c.FailingAfter > 20 {
		return nil, fmt.Errorf("HOOKBOOK_FAILING_AFTER: at most 20 (an endpoint's most attempts)")
	}
	c.SMTPURL, c.SMTPFrom = get("HOOKBOOK_SMTP_URL", ""), get("HOOKBOOK_SMTP_FROM", "")
	if c.SMTPURL != "" {
		if c.SMTPFrom == "" {
			return nil, fmt.Errorf("HOOKBOOK_SMTP_FROM: required with HOOKBOOK_SMTP_URL (the sender of alert mails, such as hookbook@example.com)")
		}
		if _, err := mail.New(c.SMTPURL, c.SMTPFrom); err != nil {
			return nil, fmt.Errorf("HOOKBOOK_SMTP_URL, HOOKBOOK_SMTP_FROM: %w", err)
		}
	}
	if !validHeaderPrefix(c.HeaderPrefix) {
		return nil, fmt.Errorf("HOOKBOOK_HEADER_PREFIX: %q is not a header name prefix", c.HeaderPrefix)
	}
	return c, nil
}

var (
	accentPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	// originPattern is an origin a CSP source list may hold: nothing that
	// could end the directive or add another.
	originPattern = regexp.MustCompile(`^https?://(\*\.)?([A-Za-z0-9-]+\.)*[A-Za-z0-9-]+(:[0-9]{1,5})?$`)
)

func (c *Config) loadPortal(get func(k, def string) string) error {
	c.PublicURL = strings.TrimRight(get("HOOKBOOK_PUBLIC_URL", ""), "/")
	if c.PublicURL != "" && !isHTTPURL(c.PublicURL, true) {
		return fmt.Errorf("HOOKBOOK_PUBLIC_URL: %q is not an http(s) URL without a path (such as https://hooks.example.com)", c.PublicURL)
	}
	p := &c.Portal
	p.Name = get("HOOKBOOK_PORTAL_NAME", "Webhooks")
	if len(p.Name) > 60 {
		return fmt.Errorf("HOOKBOOK_PORTAL_NAME: at most 60 characters")
	}
	p.Accent = get("HOOKBOOK_PORTAL_ACCENT", "#2d5bd7")
	if !accentPattern.MatchString(p.Accent) {
		return fmt.Errorf("HOOKBOOK_PORTAL_ACCENT: %q is not a colour such as #2d5bd7", p.Accent)
	}
	p.LogoURL = get("HOOKBOOK_PORTAL_LOGO_URL", "")
	if p.LogoURL != "" && (!isHTTPURL(p.LogoURL, false) || !originPattern.MatchString(originOf(p.LogoURL)) || strings.ContainsAny(p.LogoURL, "\"'<> ")) {
		return fmt.Errorf("HOOKBOOK_PORTAL_LOGO_URL: %q is not an http(s) URL", p.LogoURL)
	}
	var err error
	p.FrameAncestors, err = ParseFrameAncestors(get("HOOKBOOK_PORTAL_FRAME_ANCESTORS", "'none'"))
	if err != nil {
		return fmt.Errorf("HOOKBOOK_PORTAL_FRAME_ANCESTORS: %w", err)
	}
	return nil
}

// originOf is the scheme://host of a URL.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// isHTTPURL reports whether s is an absolute http(s) URL (with no path,
// query or fragment when bare).
func isHTTPURL(s string, bare bool) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return false
	}
	return !bare || (u.Path == "" && u.RawQuery == "" && u.Fragment == "")
}

// ParseFrameAncestors parses the origins that may frame the portal, as a
// CSP frame-ancestors list: 'none', 'self', or origins such as
// https://app.example.com or https://*.example.com, separated by spaces
// or commas.
func ParseFrameAncestors(s string) ([]string, error) {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
	if len(parts) == 0 {
		return []string{"'none'"}, nil
	}
	for _, p := range parts {
		switch {
		case p == "'none'" && len(parts) == 1, p == "'self'":
		case originPattern.MatchString(p):
		default:
			return nil, fmt.Errorf("%q is not an origin such as https://app.example.com ('none' stands alone)", p)
		}
	}
	return parts, nil
}

// ParseProxyURL reads a forward proxy's URL: http://, https:// or
// socks5:// with a host, optionally a port and user:password; "" is
// none. Errors never repeat the URL (it may hold a password).
func ParseProxyURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5":
		return nil, fmt.Errorf("the scheme must be http, https or socks5")
	case u.Hostname() == "":
		return nil, fmt.Errorf("names no host")
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "":
		return nil, fmt.Errorf("must be scheme://[user:password@]host[:port] alone")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("has an invalid port")
		}
	}
	return u, nil
}

// ParseSchedule parses a comma-separated list of durations.
func ParseSchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		d, err := time.ParseDuration(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration (write one such as 5s, 30m or 2h)", part)
		}
		if d < 0 {
			return nil, fmt.Errorf("%q is negative", part)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty schedule")
	}
	return out, nil
}

// ParseDestinationTypes parses comma-separated broker type names (each one
// of destination.Names, once); "none" is the empty list.
func ParseDestinationTypes(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "none" {
		return nil, nil
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !destination.Known(n) {
			return nil, fmt.Errorf("unknown type %q: use some of %s, or none", n, strings.Join(destination.Names, ", "))
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("names no type: use some of %s, or none", strings.Join(destination.Names, ", "))
	}
	return out, nil
}

// ParseNetworks parses comma-separated CIDRs or single addresses.
func ParseNetworks(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR", part)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR", part)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func validHeaderPrefix(p string) bool {
	if p == "" {
		return false
	}
	for _, r := range p {
		if !(r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

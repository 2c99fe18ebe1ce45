package config

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func load(env map[string]string) (*Config, error) {
	return Load(func(k string) string { return env[k] })
}

func TestDefaults(t *testing.T) {
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.DatabaseURL != "sqlite:hookbook.db" || c.HeaderPrefix != "X-Hookbook" || c.Production() ||
		c.Lease != 90*time.Second || c.Workers != 256 || c.EndpointConcurrency != 16 || len(c.RetrySchedule) != 7 ||
		c.APIRateLimit.String() != "1000/s" || c.TestSendLimit.String() != "60/m" || c.MaxEndpoints != 100 || c.MaxEventTypes != 200 {
		t.Errorf("defaults = %+v", c)
	}
}

func TestBadValuesAreRefused(t *testing.T) {
	for key, value := range map[string]string{
		"HOOKBOOK_ENV":                    "staging",
		"HOOKBOOK_RETRY_SCHEDULE":         "5s,soon",
		"HOOKBOOK_ALLOWED_NETWORKS":       "10.0.0.0/99",
		"HOOKBOOK_LEASE":                  "0s",
		"HOOKBOOK_DISABLE_AFTER":          "-1h",
		"HOOKBOOK_WORKERS":                "many",
		"HOOKBOOK_BREAKER_THRESHOLD":      "0",
		"HOOKBOOK_HEADER_PREFIX":          "X Bad",
		"HOOKBOOK_BOOTSTRAP_API_KEY":      "a",
		"HOOKBOOK_API_RATE_LIMIT":         "fast",
		"HOOKBOOK_LOG_FORMAT":             "xml",
		"HOOKBOOK_TEST_SEND_LIMIT":        "0/m",
		"HOOKBOOK_MAX_ENDPOINTS":          "0",
		"HOOKBOOK_MAX_EVENT_TYPES":        "-5",
		"HOOKBOOK_PUBLIC_URL":             "hooks.example.com/path",
		"HOOKBOOK_PORTAL_ACCENT":          "red; } body { display:none",
		"HOOKBOOK_PORTAL_LOGO_URL":        "javascript:alert(1)",
		"HOOKBOOK_PORTAL_NAME":            strings.Repeat("n", 61),
		"HOOKBOOK_PORTAL_FRAME_ANCESTORS": "'none' https://app.example.com",
	} {
		_, err := load(map[string]string{key: value})
		if err == nil || !strings.HasPrefix(err.Error(), key) {
			t.Errorf("%s=%q: %v, want an error naming the setting", key, value, err)
		}
	}
}

func TestValues(t *testing.T) {
	c, err := load(map[string]string{"HOOKBOOK_ENV": "production", "HOOKBOOK_RETRY_SCHEDULE": "1s, 2m",
		"HOOKBOOK_ALLOWED_NETWORKS": "10.0.0.0/8,192.168.1.5", "HOOKBOOK_HEADER_PREFIX": "X-BookingCalendar",
		"HOOKBOOK_API_RATE_LIMIT": "off", "HOOKBOOK_TEST_SEND_LIMIT": "5/10s"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Production() || len(c.RetrySchedule) != 2 || c.RetrySchedule[1] != 2*time.Minute || len(c.AllowedNetworks) != 2 || c.HeaderPrefix != "X-BookingCalendar" ||
		!c.APIRateLimit.Off() || c.TestSendLimit.N != 5 || c.TestSendLimit.Per != 10*time.Second {
		t.Errorf("config = %+v", c)
	}
}

func TestPortalSettings(t *testing.T) {
	c, err := load(nil)
	if err != nil || c.Portal.Name != "Webhooks" || c.Portal.Accent != "#2d5bd7" || strings.Join(c.Portal.FrameAncestors, " ") != "'none'" || c.PublicURL != "" {
		t.Fatalf("portal defaults = %+v (%v)", c.Portal, err)
	}
	c, err = load(map[string]string{"HOOKBOOK_PUBLIC_URL": "https://hooks.example.com/", "HOOKBOOK_PORTAL_ACCENT": "#AA3300",
		"HOOKBOOK_PORTAL_LOGO_URL": "https://cdn.example.com/logo.svg", "HOOKBOOK_PORTAL_FRAME_ANCESTORS": "https://app.example.com, https://*.example.com 'self'"})
	if err != nil {
		t.Fatal(err)
	}
	if c.PublicURL != "https://hooks.example.com" || strings.Join(c.Portal.FrameAncestors, " ") != "https://app.example.com https://*.example.com 'self'" {
		t.Errorf("portal = %+v, public URL %q", c.Portal, c.PublicURL)
	}
	for _, bad := range []string{"app.example.com", "https://app.example.com/path", "'unsafe-inline'", "*", "https://user@app.example.com", "https://app.example.com;script-src"} {
		if _, err := ParseFrameAncestors(bad); err == nil {
			t.Errorf("frame ancestors %q accepted", bad)
		}
	}
}

func TestPreciseMessages(t *testing.T) {
	for env, want := range map[string]string{
		"HOOKBOOK_RETRY_SCHEDULE=5s,-1m": `"-1m" is negative`,
		"HOOKBOOK_LEASE=-1m":             "HOOKBOOK_LEASE: -1m is not positive",
		"HOOKBOOK_LEASE=soon":            `HOOKBOOK_LEASE: "soon" is not a duration`,
		"HOOKBOOK_LOG_FORMAT=xml":        `"xml" is neither text nor json`,
	} {
		k, v, _ := strings.Cut(env, "=")
		_, err := load(map[string]string{k: v})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", env, err, want)
		}
	}
	// A lease the longest attempt could outlast is refused in production
	// (allowed in development, where tests speed up takeovers).
	if _, err := load(map[string]string{"HOOKBOOK_ENV": "production", "HOOKBOOK_LEASE": "1s"}); err == nil || !strings.Contains(err.Error(), "longest endpoint timeout") {
		t.Errorf("production lease 1s: %v", err)
	}
	if _, err := load(map[string]string{"HOOKBOOK_LEASE": "3s"}); err != nil {
		t.Errorf("development lease 3s: %v", err)
	}
}

func TestTransformTimeout(t *testing.T) {
	c, err := load(map[string]string{})
	if err != nil || c.TransformTimeout != 100*time.Millisecond {
		t.Fatalf("default %v, %v", c, err)
	}
	if c, err := load(map[string]string{"HOOKBOOK_TRANSFORM_TIMEOUT": "2s"}); err != nil || c.TransformTimeout != 2*time.Second {
		t.Fatalf("2s: %v", err)
	}
	for _, v := range []string{"11s", "0s", "soon"} {
		if _, err := load(map[string]string{"HOOKBOOK_TRANSFORM_TIMEOUT": v}); err == nil || !strings.Contains(err.Error(), "HOOKBOOK_TRANSFORM_TIMEOUT") {
			t.Errorf("%s: %v", v, err)
		}
	}
}

// TestProxyURL: HOOKBOOK_PROXY_URL takes http, https and socks5 URLs with
// credentials; anything else is refused without repeating the URL (it
// may hold a password).
func TestProxyURL(t *testing.T) {
	for _, ok := range []string{"http://proxy.example:3128", "https://u:p@proxy.example", "socks5://u:p@127.0.0.1:1080", "http://10.0.0.1:3128/"} {
		c, err := load(map[string]string{"HOOKBOOK_PROXY_URL": ok, "HOOKBOOK_NO_PROXY": "a.example,10.0.0.0/8"})
		if err != nil || c.ProxyURL == nil || c.NoProxy != "a.example,10.0.0.0/8" {
			t.Errorf("%s: %v", ok, err)
		}
	}
	if c, err := load(nil); err != nil || c.ProxyURL != nil {
		t.Errorf("no proxy by default: %v %v", c.ProxyURL, err)
	}
	for _, bad := range []string{"ftp://u:hidden@x", "socks4://u:hidden@x:1", "http://u:hidden@:3128", "http://u:hidden@x:0", "http://u:hidden@x/path", "::hidden"} {
		_, err := load(map[string]string{"HOOKBOOK_PROXY_URL": bad})
		if err == nil || !strings.Contains(err.Error(), "HOOKBOOK_PROXY_URL") || strings.Contains(err.Error(), "hidden") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestTracing(t *testing.T) {
	c, err := load(nil)
	if err != nil || c.Tracing.Enabled() || c.Tracing.ServiceName != "hookbook" || c.Tracing.Sampler != "parentbased_always_on" {
		t.Fatalf("default tracing = %+v, %v; want off", c.Tracing, err)
	}
	c, err = load(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318/", "OTEL_SERVICE_NAME": "hooks-eu",
		"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"})
	if err != nil || c.Tracing.Endpoint != "http://127.0.0.1:4318/v1/traces" || c.Tracing.ServiceName != "hooks-eu" || c.Tracing.SamplerArg != 0.25 {
		t.Errorf("tracing = %+v, %v", c.Tracing, err)
	}
	c, err = load(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://b/traces"})
	if err != nil || c.Tracing.Endpoint != "https://b/traces" {
		t.Errorf("traces endpoint = %+v, %v; want the signal's own endpoint as given", c.Tracing, err)
	}
	c, err = load(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_SDK_DISABLED": "true"})
	if err != nil || c.Tracing.Enabled() {
		t.Errorf("OTEL_SDK_DISABLED: %+v, %v; want off", c.Tracing, err)
	}
	for key, value := range map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":        "127.0.0.1:4318",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "ftp://x",
		"OTEL_TRACES_SAMPLER":                "sometimes",
	} {
		if _, err := load(map[string]string{key: value}); err == nil || !strings.HasPrefix(err.Error(), key) {
			t.Errorf("%s=%q: %v, want an error naming the setting", key, value, err)
		}
	}
	if _, err := load(map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}); err == nil || !strings.HasPrefix(err.Error(), "OTEL_TRACES_SAMPLER_ARG") {
		t.Errorf("ratio 2: %v", err)
	}
}

func TestDestinationTypes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "rabbitmq,nats,kafka,redis,mqtt", "redis, rabbitmq,redis": "redis,rabbitmq", "none": ""} {
		c, err := Load(func(k string) string {
			if k == "HOOKBOOK_DESTINATION_TYPES" {
				return in
			}
			return ""
		})
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if got := strings.Join(c.DestinationTypes, ","); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
	for _, bad := range []string{"sqs", "redis,pigeon", ","} {
		if _, err := ParseDestinationTypes(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestMaxEndpointsIsBounded: an organization's endpoints may be raised to
// MaxEndpointsBound and no further.
func TestMaxEndpointsIsBounded(t *testing.T) {
	if c, err := load(map[string]string{"HOOKBOOK_MAX_ENDPOINTS": strconv.Itoa(MaxEndpointsBound)}); err != nil || c.MaxEndpoints != MaxEndpointsBound {
		t.Errorf("HOOKBOOK_MAX_ENDPOINTS=%d: %v", MaxEndpointsBound, err)
	}
	_, err := load(map[string]string{"HOOKBOOK_MAX_ENDPOINTS": strconv.Itoa(MaxEndpointsBound + 1)})
	if err == nil || !strings.HasPrefix(err.Error(), "HOOKBOOK_MAX_ENDPOINTS: 10001 is more than 10000") {
		t.Errorf("HOOKBOOK_MAX_ENDPOINTS=%d: %v, want it refused", MaxEndpointsBound+1, err)
	}
}

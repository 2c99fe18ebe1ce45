package config

import (
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
		"HOOKBOOK_ENV":               "staging",
		"HOOKBOOK_RETRY_SCHEDULE":    "5s,soon",
		"HOOKBOOK_ALLOWED_NETWORKS":  "10.0.0.0/99",
		"HOOKBOOK_LEASE":             "0s",
		"HOOKBOOK_DISABLE_AFTER":     "-1h",
		"HOOKBOOK_WORKERS":           "many",
		"HOOKBOOK_BREAKER_THRESHOLD": "0",
		"HOOKBOOK_HEADER_PREFIX":     "X Bad",
		"HOOKBOOK_BOOTSTRAP_API_KEY": "a",
		"HOOKBOOK_API_RATE_LIMIT":    "fast",
		"HOOKBOOK_TEST_SEND_LIMIT":   "0/m",
		"HOOKBOOK_MAX_ENDPOINTS":     "0",
		"HOOKBOOK_MAX_EVENT_TYPES":   "-5",
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

package e2e

import (
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestMemoryWithManyPending measures the resident memory of a hookbook
// process holding 100,000 pending deliveries (10,000 events × 10
// endpoints whose receivers answer 500, retried in an hour). Opt-in, as
// soak runs are: HOOKBOOK_TEST_MEMORY=1 go test ./e2e -run MemoryWithManyPending -v
func TestMemoryWithManyPending(t *testing.T) {
	if os.Getenv("HOOKBOOK_TEST_MEMORY") == "" {
		t.Skip("opt-in: set HOOKBOOK_TEST_MEMORY=1")
	}
	const events, endpoints = 10000, 10
	var attempts atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		w.WriteHeader(500)
	}))
	defer recv.Close()
	p := startProc(t, freePort(t), map[string]string{"HOOKBOOK_DATABASE_URL": "sqlite:" + t.TempDir() + "/mem.db",
		"HOOKBOOK_RETRY_SCHEDULE": "1h", "HOOKBOOK_API_RATE_LIMIT": "off", "HOOKBOOK_BREAKER_THRESHOLD": "1000000"})
	for i := range endpoints {
		if code, body, err := p.post("/api/v1/webhooks", map[string]any{"url": recv.URL + "/" + strconv.Itoa(i), "events": []string{"*"}}); err != nil || code != 201 {
			t.Fatalf("create endpoint: %d %s %v", code, body, err)
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= events {
				if code, body, err := p.post("/api/v1/events", map[string]any{"event": "booking.created", "data": bookingData(nil)}); err != nil || code != 202 {
					t.Errorf("publish: %d %s %v", code, body, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	waitFor(t, 5*time.Minute, "one attempt of every delivery", func() bool { return attempts.Load() >= events*endpoints })
	status, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/status")
	if err != nil {
		t.Skip("no /proc here")
	}
	kb := func(field string) int {
		m := regexp.MustCompile(field + `:\s+(\d+) kB`).FindSubmatch(status)
		if m == nil {
			return 0
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	rss, peak := kb("VmRSS")/1024, kb("VmHWM")/1024
	t.Logf("%d pending deliveries: RSS %d MB, peak %d MB", events*endpoints, rss, peak)
	if rss > 200 {
		t.Errorf("RSS %d MB with %d pending deliveries, want under 200 MB", rss, events*endpoints)
	}
}

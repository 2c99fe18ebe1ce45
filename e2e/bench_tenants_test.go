package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkIsolationTenants measures what many bad receivers spread over
// several organizations cost the healthy ones: 40 endpoints on 4
// organizations, each organization publishing its own events to its 10
// endpoints. One run has every endpoint healthy; the others make 4, 10 or 20
// endpoints (spread over the organizations) hang past their timeout, or
// answer slowly within it. For each bad run it reports the healthy
// endpoints' deliveries/s and p50 publish→receipt latency beside the same
// endpoints' figures in the all-healthy run of the same benchmark.
//
//	go test ./e2e -run '^$' -bench IsolationTenants -benchtime 1x
//
// HOOKBOOK_BENCH_EVENTS (default 2000) is the number of events, shared by
// the organizations.
func BenchmarkIsolationTenants(b *testing.B) {
	events := benchEnv("HOOKBOOK_BENCH_EVENTS", 2000)
	for i := 0; i < b.N; i++ {
		healthy := tenantsRun(b, events, "", 0)
		for _, bad := range []string{"hang", "slow"} {
			for _, k := range []int{4, 10, 20} {
				run := tenantsRun(b, events, bad, k)
				base := healthy.subset(run.healthy)
				got := run.subset(run.healthy)
				name := fmt.Sprintf("%s_%d", bad, k)
				b.ReportMetric(got.perSec/base.perSec*100, "%_dlv/s_"+name)
				b.ReportMetric(float64(got.p50)/float64(base.p50), "x_p50_"+name)
				b.Logf("%2d endpoints %s: the %d healthy ones got %.0f deliveries/s (%.0f %% of %.0f all healthy), p50 %s (×%.2f of %s)",
					k, map[string]string{"hang": "hanging", "slow": "slow"}[bad], len(run.healthy),
					got.perSec, got.perSec/base.perSec*100, base.perSec, got.p50.Round(time.Millisecond),
					float64(got.p50)/float64(base.p50), base.p50.Round(time.Millisecond))
			}
		}
	}
}

const (
	tenantOrgs      = 4
	tenantEndpoints = 40
	tenantTimeout   = 3 // seconds: the bad endpoints' timeout
)

// tenantRun is what the healthy receivers of one run saw.
type tenantRun struct {
	start   time.Time
	healthy []int                // indexes of the endpoints that stayed healthy
	recv    []*benchReceiver     // by endpoint index; nil for bad endpoints
	sent    map[string]time.Time // event id → publication time
}

type tenantFigures struct {
	perSec float64
	p50    time.Duration
}

// subset returns the deliveries/s and p50 latency of the given endpoints.
func (r tenantRun) subset(idx []int) tenantFigures {
	var last time.Time
	var lat []time.Duration
	for _, i := range idx {
		rc := r.recv[i]
		rc.mu.Lock()
		for id, at := range rc.first {
			if at.After(last) {
				last = at
			}
			lat = append(lat, at.Sub(r.sent[id]))
		}
		rc.mu.Unlock()
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return tenantFigures{perSec: float64(len(lat)) / last.Sub(r.start).Seconds(), p50: lat[len(lat)/2]}
}

// tenantsRun runs one instance with 4 organizations of 10 endpoints, k of
// them bad ("hang" past the timeout or "slow": answering within it), and
// waits for every healthy endpoint's deliveries.
func tenantsRun(b *testing.B, events int, bad string, k int) tenantRun {
	b.Helper()
	in := startBench(b, nil)
	defer in.stop()
	stop := make(chan struct{})
	var bads []*httptest.Server
	defer func() {
		close(stop) // the hanging handlers return, so their servers close at once
		for _, srv := range bads {
			srv.Close()
		}
	}()
	badHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wait := time.Duration(tenantTimeout) * time.Second * 2 // hang: past the timeout
		if bad == "slow" {
			wait = time.Duration(tenantTimeout)*time.Second - 500*time.Millisecond
		}
		select {
		case <-r.Context().Done():
		case <-stop:
		case <-time.After(wait):
		}
	})

	keys := make([]string, tenantOrgs)
	keys[0] = in.key
	for o := 1; o < tenantOrgs; o++ {
		keys[o] = fmt.Sprintf("hb_bench_tenant_%d_%s", o, testKey)
		if _, err := in.app.Orgs.CreateOrganization(b.Context(), fmt.Sprintf("tenant-%d", o), keys[o]); err != nil {
			b.Fatal(err)
		}
	}
	run := tenantRun{recv: make([]*benchReceiver, tenantEndpoints)}
	// Bad endpoints are spread over the organizations: endpoint i belongs
	// to organization i%4, and the first k indexes are bad.
	for i := 0; i < tenantEndpoints; i++ {
		var url string
		if i < k {
			srv := httptest.NewServer(badHandler) // each bad receiver on its own host:port
			bads = append(bads, srv)
			url = srv.URL
		} else {
			run.recv[i] = newBenchReceiver()
			defer run.recv[i].srv.Close()
			url = run.recv[i].srv.URL
			run.healthy = append(run.healthy, i)
		}
		body := map[string]any{"url": url, "events": []string{"*"}, "timeout_seconds": tenantTimeout}
		if r := in.doKey(keys[i%tenantOrgs], "POST", "/api/v1/webhooks", body); r.Status != 201 {
			b.Fatalf("create endpoint = %d: %s", r.Status, r.Body)
		}
	}
	run.start = time.Now()
	run.sent = publishTenants(b, in, keys, events, 64)
	want := int64(len(run.healthy) * (events / tenantOrgs))
	var healthyRecv []*benchReceiver
	for _, i := range run.healthy {
		healthyRecv = append(healthyRecv, run.recv[i])
	}
	awaitDeliveries(b, healthyRecv, want)
	return run
}

// publishTenants publishes n booking.created events spread evenly over the
// organizations' keys with the given concurrency, and returns when each was
// sent, by event id.
func publishTenants(b *testing.B, in *instance, keys []string, n, concurrency int) map[string]time.Time {
	body := []byte(`{"event":"booking.created","data":` + benchBody + `}`)
	return publishBodies(b, in, keys, n, concurrency, func(int64) []byte { return body })
}

// publishOne POSTs one event with key and returns its id.
func publishOne(client *http.Client, base, key string, body []byte) (string, error) {
	req, _ := http.NewRequest("POST", base+"/api/v1/events", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 202 {
		return "", fmt.Errorf("publish = %d", resp.StatusCode)
	}
	return out.ID, nil
}

// publishBodies is publishTenants with the body of event i from bodyOf.
func publishBodies(b *testing.B, in *instance, keys []string, n, concurrency int, bodyOf func(i int64) []byte) map[string]time.Time {
	var mu sync.Mutex
	published := make(map[string]time.Time, n)
	var wg sync.WaitGroup
	var next atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n-n%len(keys)) {
					return
				}
				at := time.Now()
				id, err := publishOne(client, in.url, keys[int(i)%len(keys)], bodyOf(i))
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				published[id] = at
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return published
}

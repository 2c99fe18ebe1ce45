package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"
)

// BenchmarkLightLoad publishes 50 events/s for 10 s to 10 endpoints and
// reports publish→receipt latency (p50, p99) of every delivery, beside a
// baseline measured in the same run: the same body POSTed straight to the
// same receivers at the same rate by a keep-alive client (the latency of a
// direct POST). Run:
//
//	go test ./e2e -run '^$' -bench LightLoad -benchtime 1x
//
// HOOKBOOK_BENCH_RATE (default 50) and HOOKBOOK_BENCH_SECONDS (10) change it.
func BenchmarkLightLoad(b *testing.B) {
	rate := benchEnv("HOOKBOOK_BENCH_RATE", 50)
	seconds := benchEnv("HOOKBOOK_BENCH_SECONDS", 10)
	const endpoints = 10
	for i := 0; i < b.N; i++ {
		recv, in := benchSetup(b, endpoints)
		body := []byte(`{"event":"booking.created","data":` + benchBody + `}`)
		envelope := []byte(`{"id":"evt_x","event":"booking.created","timestamp":"2026-03-24T14:30:00Z","organization_id":"org_x","data":` + benchBody + `}`)
		direct := directLatencies(recv, rate, seconds, envelope)
		for _, r := range recv {
			r.mu.Lock()
			r.first = map[string]time.Time{}
			r.mu.Unlock()
			r.count.Store(0)
		}
		lat, acks := atRate(b, recv, in, body, rate, seconds)
		p50, p99 := percentiles(lat)
		d50, d99 := percentiles(direct)
		a50, a99 := percentiles(acks)
		f50, _ := percentiles(fsyncLatencies(b, 200))
		goal := d50 + f50 + time.Millisecond
		bare50, bare99 := percentiles(bareLatencies(b, recv, rate, seconds))
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50_ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99_ms")
		b.ReportMetric(float64(a50.Microseconds())/1000, "ack_p50_ms")
		b.ReportMetric(float64(d50.Microseconds())/1000, "direct_p50_ms")
		b.ReportMetric(float64(d99.Microseconds())/1000, "direct_p99_ms")
		b.ReportMetric(float64(f50.Microseconds())/1000, "fsync_p50_ms")
		b.ReportMetric(float64(goal.Microseconds())/1000, "goal_p50_ms")
		b.ReportMetric(float64(bare50.Microseconds())/1000, "bare_hub_p50_ms")
		r := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
		b.Logf("%d events/s × %d endpoints for %d s: publish→receipt p50 %s p99 %s (%d deliveries), publish→202 p50 %s p99 %s; a direct POST p50 %s p99 %s; an fsync p50 %s; p50 goal (direct + fsync + 1ms) %s, p99 goal 10ms; the bare hub's publish→receipt p50 %s p99 %s (hookbook - bare hub: %s)",
			rate, endpoints, seconds, r(p50), r(p99), len(lat), r(a50), r(a99), r(d50), r(d99), r(f50), r(goal), r(bare50), r(bare99), r(p50-bare50))
	}
}

// BenchmarkSixtyPercent measures the engine's capacity as BenchmarkEngine
// does (a burst of HOOKBOOK_BENCH_EVENTS events to 10 endpoints, default
// 2,000), then publishes at 60 % of it, evenly spread, for
// HOOKBOOK_BENCH_SECONDS (default 10) on a fresh instance, and reports
// publish→receipt p50 and p99. Run:
//
//	go test ./e2e -run '^$' -bench SixtyPercent -benchtime 1x
func BenchmarkSixtyPercent(b *testing.B) {
	events := benchEnv("HOOKBOOK_BENCH_EVENTS", 2000)
	seconds := benchEnv("HOOKBOOK_BENCH_SECONDS", 10)
	const endpoints = 10
	body := []byte(`{"event":"booking.created","data":` + benchBody + `}`)
	for i := 0; i < b.N; i++ {
		capacity := runEngineBench(b, events, endpoints, 64, nil).deliveriesPerSec
		rate := max(1, int(0.6*capacity/endpoints))
		recv, in := benchSetup(b, endpoints)
		lat, _ := atRate(b, recv, in, body, rate, seconds)
		p50, p99 := percentiles(lat)
		b.ReportMetric(capacity, "capacity_deliveries/s")
		b.ReportMetric(float64(rate), "events/s")
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50_ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99_ms")
		b.Logf("capacity %.0f deliveries/s; at 60 %%, %d events/s × %d endpoints for %d s: publish→receipt p50 %s p99 %s (%d deliveries)",
			capacity, rate, endpoints, seconds, p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), len(lat))
	}
}

// atRate publishes body rate times a second for seconds (timed), waits for
// every delivery to the receivers, stops the instance and returns the
// publish→receipt latency of each delivery and the publish→202 of each
// event.
func atRate(b *testing.B, recv []*benchReceiver, in *instance, body []byte, rate, seconds int) (lat, acks []time.Duration) {
	b.StartTimer()
	published, acks := publishAtRate(b, in.url, in.key, body, rate, seconds)
	awaitDeliveries(b, recv, int64(len(published)*len(recv)))
	b.StopTimer()
	lat = receiptLatencies(recv, published)
	in.stop()
	return lat, acks
}

// receiptLatencies returns, for every delivery the receivers got first of
// an event in published, how long after its publication it arrived.
func receiptLatencies(recv []*benchReceiver, published map[string]time.Time) []time.Duration {
	var lat []time.Duration
	for _, r := range recv {
		r.mu.Lock()
		for id, at := range r.first {
			if p, ok := published[id]; ok {
				lat = append(lat, at.Sub(p))
			}
		}
		r.mu.Unlock()
	}
	return lat
}

// publishAtRate publishes rate events per second for seconds, each at its
// own tick, and returns when each was sent (just before its request), by
// id, and how long each took to be acknowledged.
func publishAtRate(b *testing.B, url, key string, body []byte, rate, seconds int) (map[string]time.Time, []time.Duration) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	published := map[string]time.Time{}
	var acks []time.Duration
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for range rate * seconds {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			at := time.Now()
			id, err := publishOne(client, url, key, body)
			if err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			published[id] = at
			acks = append(acks, time.Since(at))
			mu.Unlock()
		}()
	}
	wg.Wait()
	return published, acks
}

// directLatencies POSTs body to every receiver rate times a second for
// seconds, as hookbook's fan-out would, and returns each request's latency.
func directLatencies(recv []*benchReceiver, rate, seconds int, body []byte) []time.Duration {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var out []time.Duration
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := range rate * seconds {
		<-tick.C
		for _, r := range recv {
			wg.Add(1)
			go func() {
				defer wg.Done()
				at := time.Now()
				req, _ := http.NewRequest("POST", r.srv.URL, bytes.NewReader(body))
				req.Header.Set("Webhook-Id", fmt.Sprintf("direct_%d", i))
				if send(client, req) != nil {
					return
				}
				mu.Lock()
				out = append(out, time.Since(at))
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	return out
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[(len(d)-1)/2], d[int(float64(len(d)-1)*0.99)]
}

// BenchmarkPublishers reports events accepted per second (each 202 means
// fsynced) with 16 and with 64 publishing clients, 10 endpoints, in one run:
//
//	go test ./e2e -run '^$' -bench Publishers -benchtime 1x
func BenchmarkPublishers(b *testing.B) {
	events := benchEnv("HOOKBOOK_BENCH_EVENTS", 2000)
	for i := 0; i < b.N; i++ {
		rates := map[int]float64{}
		for _, clients := range []int{16, 64} {
			recv, in := benchSetup(b, 10)
			start := time.Now()
			publishAll(b, in, events, clients)
			rates[clients] = float64(events) / time.Since(start).Seconds()
			awaitDeliveries(b, recv, int64(events*10))
			in.stop()
		}
		b.ReportMetric(rates[16], "events/s_16_clients")
		b.ReportMetric(rates[64], "events/s_64_clients")
		b.Logf("%d events × 10 endpoints: accepted %.0f events/s with 16 publishing clients, %.0f with 64", events, rates[16], rates[64])
	}
}

// benchSetup starts hookbook for a benchmark with n local receivers, each
// an endpoint for booking.*; the receivers close when the benchmark ends.
func benchSetup(b *testing.B, n int) ([]*benchReceiver, *instance) {
	recv := make([]*benchReceiver, n)
	for i := range recv {
		recv[i] = newBenchReceiver()
		b.Cleanup(recv[i].srv.Close)
	}
	in := startBench(b, nil)
	for _, r := range recv {
		in.createEndpoint(r.srv.URL, []string{"booking.*"}, nil)
	}
	return recv, in
}

// fsyncLatencies appends a 4 KiB page to a file n times, each followed by
// an fsync, in the benchmark's temporary directory (the file system of its
// SQLite databases), and returns how long each write and fsync took: the
// floor of a durable commit on this machine.
func fsyncLatencies(b *testing.B, n int) []time.Duration {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, 4096)
	out := make([]time.Duration, 0, n)
	for range n {
		at := time.Now()
		if _, err := f.Write(page); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		out = append(out, time.Since(at))
	}
	return out
}

// bareLatencies publishes rate events per second for seconds to a bare
// hub (bareHub: a durable store and a signed fan-out, nothing else) that
// delivers to recv, and returns every delivery's publish→receipt.
func bareLatencies(b *testing.B, recv []*benchReceiver, rate, seconds int) []time.Duration {
	for _, r := range recv {
		r.mu.Lock()
		r.first = map[string]time.Time{}
		r.mu.Unlock()
		r.count.Store(0)
	}
	h := newBareHub(b, recv, 160, false)
	defer h.close()
	published, _ := publishAtRate(b, h.srv.URL, "", []byte(benchBody), rate, seconds)
	awaitDeliveries(b, recv, int64(len(published)*len(recv)))
	return receiptLatencies(recv, published)
}

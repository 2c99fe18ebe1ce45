package e2e

import (
	"encoding/json"
	"sync"
	"testing"
	"time"
)

// BenchmarkListenRelay compares a listening endpoint (the real `hookbook
// listen` binary forwarding to a local receiver) with a webhook endpoint
// posting to an identical receiver, in the same run on the same instance:
// throughput (a burst of HOOKBOOK_BENCH_EVENTS events, default 500,
// published by 8 clients, first publish to last receipt, twice each in
// the order webhook, listen, listen, webhook) and added
// latency (HOOKBOOK_BENCH_SAMPLES events one at a time, default 100,
// alternating between the two, publish→receipt p50 and p99). Run:
//
//	go test ./e2e -run '^$' -bench ListenRelay -benchtime 1x
func BenchmarkListenRelay(b *testing.B) {
	events := benchEnv("HOOKBOOK_BENCH_EVENTS", 500)
	samples := benchEnv("HOOKBOOK_BENCH_SAMPLES", 100)
	for i := 0; i < b.N; i++ {
		in := start(b, nil)
		for _, name := range []string{"bench.webhook", "bench.listen"} {
			in.must(201, "POST", "/api/v1/event-types", map[string]any{"name": name, "description": "benchmark"})
		}
		hook, relayed := newReceiver(b, nil), newReceiver(b, nil)
		in.createEndpoint(hook.URL, []string{"bench.webhook"}, nil)
		l := startListen(b, in, "--name", "bench", "--events", "bench.listen", "--forward-to", relayed.URL, "--print-json")
		waitFor(b, time.Minute, "the listener", func() bool { return secretLine.MatchString(l.stderr()) })

		burst := func(typ string, rc *receiver) float64 {
			base := rc.Count()
			start := time.Now()
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := w; k < events; k += 8 {
						in.must(202, "POST", "/api/v1/events", map[string]any{"event": typ, "data": map[string]any{"n": k}})
					}
				}()
			}
			wg.Wait()
			waitFor(b, 5*time.Minute, typ+" deliveries", func() bool { return rc.Count() >= base+events })
			return float64(events) / time.Since(start).Seconds()
		}
		// Each twice, in the order W L L W, so that neither gains from
		// going second on a warmed-up instance.
		webhookRate := burst("bench.webhook", hook)
		listenRate := burst("bench.listen", relayed)
		listenRate = (listenRate + burst("bench.listen", relayed)) / 2
		webhookRate = (webhookRate + burst("bench.webhook", hook)) / 2

		latency := func(typ string, rc *receiver) time.Duration {
			base := rc.Count()
			start := time.Now()
			id := in.must(202, "POST", "/api/v1/events", map[string]any{"event": typ, "data": map[string]any{"n": 0}})["id"].(string)
			waitFor(b, time.Minute, typ+" delivery", func() bool { return rc.Count() > base })
			r := rc.All()[base]
			var env struct{ ID string }
			json.Unmarshal(r.Body, &env)
			if env.ID != id {
				b.Fatalf("got %s, want %s", env.ID, id)
			}
			return r.At.Sub(start)
		}
		var lw, ll []time.Duration
		for k := 0; k < samples; k++ {
			lw = append(lw, latency("bench.webhook", hook))
			ll = append(ll, latency("bench.listen", relayed))
		}
		w50, w99 := percentiles(lw)
		l50, l99 := percentiles(ll)
		b.ReportMetric(webhookRate, "webhook_deliveries/s")
		b.ReportMetric(listenRate, "listen_deliveries/s")
		b.ReportMetric(listenRate/webhookRate, "throughput_ratio")
		b.ReportMetric(float64(w50.Microseconds())/1000, "webhook_p50_ms")
		b.ReportMetric(float64(l50.Microseconds())/1000, "listen_p50_ms")
		b.Logf("%d events: webhook %.0f deliveries/s, listen %.0f deliveries/s (%.2f×); one at a time (%d each): webhook p50 %s p99 %s, listen p50 %s p99 %s (+%s at p50)",
			events, webhookRate, listenRate, listenRate/webhookRate, samples, w50.Round(10*time.Microsecond), w99.Round(10*time.Microsecond),
			l50.Round(10*time.Microsecond), l99.Round(10*time.Microsecond), (l50 - w50).Round(10*time.Microsecond))
		l.kill()
		in.stop()
	}
}

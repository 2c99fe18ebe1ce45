package e2e

import (
	"sort"
	"syscall"
	"testing"
	"time"
)

// BenchmarkThrottle measures what one throttled endpoint and its growing
// backlog cost the others: 9 endpoints receive the same events (64
// publishing clients) alone ("without"), beside a tenth endpoint that gets
// them too ("open"), or beside that tenth endpoint limited to 10/s
// ("throttled"). The three runs alternate in the same sitting, each on a
// fresh instance. For each round it reports the 9 endpoints' deliveries/s
// and p50 publish→receipt latency in the throttled run as ratios to the
// two others of the same round, and the most arrivals the throttled
// endpoint got within any one second (at most 10/s plus its burst of 10).
//
//	go test ./e2e -run '^$' -bench Throttle -benchtime 5x
//
// HOOKBOOK_BENCH_EVENTS (default 1000) is the number of events per run.
func BenchmarkThrottle(b *testing.B) {
	events := benchEnv("HOOKBOOK_BENCH_EVENTS", 1000)
	for i := 0; i < b.N; i++ {
		without := throttleRun(b, events, "without")
		open := throttleRun(b, events, "open")
		got := throttleRun(b, events, "throttled")
		b.ReportMetric(got.perSec/without.perSec*100, "%_dlv/s_vs_without")
		b.ReportMetric(float64(got.p50)/float64(without.p50), "x_p50_vs_without")
		b.ReportMetric(got.perSec/open.perSec*100, "%_dlv/s_vs_open")
		b.ReportMetric(float64(got.p50)/float64(open.p50), "x_p50_vs_open")
		b.ReportMetric(float64(got.most), "max_per_s_throttled")
		b.ReportMetric(float64(got.mostStarted), "max_started_per_s_throttled")
		b.ReportMetric(float64(got.cpu)/float64(without.cpu)*100, "%_cpu_vs_without")
		b.ReportMetric(float64(got.cpu)/float64(open.cpu)*100, "%_cpu_vs_open")
		b.Logf("round %d: the 9 endpoints: without %.0f/s p50 %s | open %.0f/s p50 %s | throttled %.0f/s p50 %s: %.0f %% and ×%.2f of without, %.0f %% and ×%.2f of open; the 10/s endpoint got %d in %s, at most %d within one second (%d started); CPU without %s, open %s, throttled %s",
			i+1, without.perSec, without.p50.Round(time.Millisecond), open.perSec, open.p50.Round(time.Millisecond),
			got.perSec, got.p50.Round(time.Millisecond), got.perSec/without.perSec*100, float64(got.p50)/float64(without.p50),
			got.perSec/open.perSec*100, float64(got.p50)/float64(open.p50), got.throttled, got.took.Round(time.Millisecond), got.most, got.mostStarted,
			without.cpu.Round(time.Millisecond), open.cpu.Round(time.Millisecond), got.cpu.Round(time.Millisecond))
	}
}

// throttleFigures are what one run's receivers saw.
type throttleFigures struct {
	perSec    float64       // the other endpoints' deliveries/s
	p50       time.Duration // their p50 publish→receipt latency
	took      time.Duration // until the last of them arrived
	throttled int           // arrivals at the throttled endpoint meanwhile
	most      int           // of which at most this many within one second
	// mostStarted is the most attempts to it hookbook started within one
	// second (its attempt log): arrivals differ by the network's and the
	// machine's delays.
	mostStarted int
	cpu         time.Duration // the process's CPU time (hookbook, clients and receivers)
}

// cpuTime is the CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// throttleRun runs one instance with 9 endpoints, and a tenth unless mode
// is "without" (limited to 10/s when "throttled"), and waits for the 9
// endpoints' deliveries.
func throttleRun(b *testing.B, events int, mode string) throttleFigures {
	b.Helper()
	in := startBench(b, nil)
	defer in.stop()
	recv := make([]*benchReceiver, 10)
	for i := range recv {
		recv[i] = newBenchReceiver()
		defer recv[i].srv.Close()
		body := map[string]any{"url": recv[i].srv.URL, "events": []string{"*"}}
		switch {
		case i == 0 && mode == "without":
			continue
		case i == 0 && mode == "throttled":
			body["rate_limit"] = "10/s"
		}
		if r := in.do("POST", "/api/v1/webhooks", body); r.Status != 201 {
			b.Fatalf("create endpoint = %d: %s", r.Status, r.Body)
		}
	}
	start, cpu := time.Now(), cpuTime()
	sent := publishTenants(b, in, []string{in.key}, events, 64)
	awaitDeliveries(b, recv[1:], int64(9*events))
	cpu = cpuTime() - cpu
	var last time.Time
	var lat []time.Duration
	for _, rc := range recv[1:] {
		rc.mu.Lock()
		for id, at := range rc.first {
			if at.After(last) {
				last = at
			}
			lat = append(lat, at.Sub(sent[id]))
		}
		rc.mu.Unlock()
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	f := throttleFigures{perSec: float64(len(lat)) / last.Sub(start).Seconds(), p50: lat[len(lat)/2], took: last.Sub(start), cpu: cpu}
	var arrivals []time.Time
	recv[0].mu.Lock()
	for _, at := range recv[0].first {
		if !at.After(last) {
			arrivals = append(arrivals, at)
		}
	}
	recv[0].mu.Unlock()
	sort.Slice(arrivals, func(i, j int) bool { return arrivals[i].Before(arrivals[j]) })
	f.throttled = len(arrivals)
	for i, j := 0, 0; i < len(arrivals); i++ {
		for arrivals[i].Sub(arrivals[j]) > time.Second {
			j++
		}
		f.most = max(f.most, i-j+1)
	}
	if mode == "throttled" {
		f.mostStarted = throttledStarts(b, in, last)
	}
	return f
}

// throttledStarts returns the most attempts hookbook started within one
// second, until last, to the run's throttled endpoint (its only one with
// a rate limit).
func throttledStarts(b *testing.B, in *instance, last time.Time) int {
	rows, err := in.app.DB.QueryContext(b.Context(), `SELECT a.started_at FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
		JOIN endpoints e ON e.id = d.endpoint_id WHERE e.rate_limit IS NOT NULL AND a.started_at <= $1 ORDER BY a.started_at`, last.UnixMicro())
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var starts []int64
	for rows.Next() {
		var at int64
		if err := rows.Scan(&at); err != nil {
			b.Fatal(err)
		}
		starts = append(starts, at)
	}
	most := 0
	for i, j := 0, 0; i < len(starts); i++ {
		for starts[i]-starts[j] > time.Second.Microseconds() {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

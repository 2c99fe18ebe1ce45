package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/hookbook/hookbook/internal/server"
	"github.com/hookbook/hookbook/webhook"
)

// benchReceiver records when each event id first arrived.
type benchReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	first map[string]time.Time
	count atomic.Int64
}

func newBenchReceiver() *benchReceiver {
	br := &benchReceiver{first: map[string]time.Time{}}
	br.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		id := r.Header.Get("Webhook-Id")
		io.Copy(io.Discard, r.Body)
		if id != "" {
			br.mu.Lock()
			if _, ok := br.first[id]; !ok {
				br.first[id] = now
			}
			br.mu.Unlock()
		}
		br.count.Add(1)
		w.WriteHeader(200)
	}))
	return br
}

// startBench runs hookbook for a benchmark: the publishing clients push
// far more than the default per-key API rate (1000/s), so the limit is
// raised (not turned off: its cost stays in the figures). On SQLite,
// HOOKBOOK_BENCH_SQLITE_OPTIONS is added to the fresh database's URL, e.g.
// "_pragma=synchronous(normal)" to measure without an fsync per
// publication.
func startBench(b *testing.B, env map[string]string, setup ...func(*server.App)) *instance {
	b.Helper()
	if env == nil {
		env = map[string]string{}
	}
	env["HOOKBOOK_API_RATE_LIMIT"] = "1000000/s"
	if opts := os.Getenv("HOOKBOOK_BENCH_SQLITE_OPTIONS"); opts != "" && env["HOOKBOOK_DATABASE_URL"] == "" && hookbooktest.Backend() == "sqlite" {
		env["HOOKBOOK_DATABASE_URL"] = hookbooktest.SQLiteURL(b) + "?" + opts
	}
	return start(b, env, setup...)
}

func benchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkEngine publishes N events through the API, fanned out to M local
// receivers, and compares the deliveries/s with a raw baseline measured in
// the same run, just before and just after (their mean): the same receivers
// hit directly by a plain Go HTTP client with the same concurrency and body,
// each request signed as hookbook signs a delivery. It runs with 64 and with
// 16 publishing clients. Run:
//
//	go test ./e2e -run '^$' -bench Engine -benchtime 1x
//
// HOOKBOOK_BENCH_EVENTS (default 2000) and HOOKBOOK_BENCH_ENDPOINTS (10) scale
// it; HOOKBOOK_BENCH_PUBLISHERS runs it with that many clients only.
func BenchmarkEngine(b *testing.B) {
	events := benchEnv("HOOKBOOK_BENCH_EVENTS", 2000)
	endpoints := benchEnv("HOOKBOOK_BENCH_ENDPOINTS", 10)
	counts := []int{64, 16}
	if n := benchEnv("HOOKBOOK_BENCH_PUBLISHERS", 0); n > 0 {
		counts = []int{n}
	}
	for _, publishers := range counts {
		b.Run(fmt.Sprintf("%d_publishers", publishers), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				res := runEngineBench(b, events, endpoints, publishers, nil)
				b.ReportMetric(res.rawPerSec, "raw_req/s")
				b.ReportMetric(res.eventsPerSec, "events/s")
				b.ReportMetric(res.deliveriesPerSec, "deliveries/s")
				b.ReportMetric(res.deliveriesPerSec/res.rawPerSec*100, "%_of_raw")
				b.ReportMetric(res.barePerSec/res.rawPerSec*100, "bare_hub_%_of_raw")
				b.ReportMetric(res.deliveriesPerSec/res.barePerSec*100, "%_of_bare_hub")
				b.ReportMetric(float64(res.p50.Milliseconds()), "p50_ms")
				b.ReportMetric(float64(res.p99.Milliseconds()), "p99_ms")
				b.ReportMetric(float64(res.cpuPerDelivery.Nanoseconds())/1000, "cpu_µs/delivery")
				b.ReportMetric(float64(res.rawCPUPerRequest.Nanoseconds())/1000, "raw_cpu_µs/req")
				b.Logf("%d events × %d endpoints, %d publishers: raw %.0f req/s; hookbook accepted %.0f events/s, completed %.0f deliveries/s (%.0f %% of raw, goal ≥ 40 %%), publish→receipt p50 %s p99 %s; CPU per delivery %s, per raw request %s (×%.2f); a bare hub %.0f deliveries/s (%.0f %% of raw; hookbook %.0f %% of it)",
					events, endpoints, publishers, res.rawPerSec, res.eventsPerSec, res.deliveriesPerSec, res.deliveriesPerSec/res.rawPerSec*100, res.p50, res.p99,
					res.cpuPerDelivery, res.rawCPUPerRequest, float64(res.cpuPerDelivery)/float64(res.rawCPUPerRequest),
					res.barePerSec, res.barePerSec/res.rawPerSec*100, res.deliveriesPerSec/res.barePerSec*100)
			}
		})
	}
}

// BenchmarkTransformations runs the engine benchmark three times in one
// sitting: with no transformation, with the Slack connector's
// transformation on every endpoint (each attempt runs it in the JavaScript
// sandbox), and with none again; the two runs without bracket the
// machine's drift. It reports the deliveries/s with the transformation as
// a share of the mean without, the same share of each run's own raw
// baseline, and the CPU per delivery of both. Run:
//
//	go test ./e2e -run '^$' -bench Transformations -benchtime 1x
func BenchmarkTransformations(b *testing.B) {
	events := benchEnv("HOOKBOOK_BENCH_EVENTS", 2000)
	endpoints := benchEnv("HOOKBOOK_BENCH_ENDPOINTS", 10)
	for i := 0; i < b.N; i++ {
		before := runEngineBench(b, events, endpoints, 64, nil)
		slack := runEngineBench(b, events, endpoints, 64, nil, benchKeys{connector: "slack"})
		after := runEngineBench(b, events, endpoints, 64, nil)
		none := (before.deliveriesPerSec + after.deliveriesPerSec) / 2
		noneOfRaw := (before.deliveriesPerSec/before.rawPerSec + after.deliveriesPerSec/after.rawPerSec) / 2
		noneCPU := (before.cpuPerDelivery + after.cpuPerDelivery) / 2
		b.ReportMetric(none, "none_dlv/s")
		b.ReportMetric(slack.deliveriesPerSec, "transformed_dlv/s")
		b.ReportMetric(slack.deliveriesPerSec/none*100, "%_transformed_of_none")
		b.ReportMetric(slack.deliveriesPerSec/slack.rawPerSec/noneOfRaw*100, "%_of_none_raw_adjusted")
		b.ReportMetric(float64(noneCPU)/float64(slack.cpuPerDelivery)*100, "%_cpu_ratio")
		b.Logf("%d events × %d endpoints, 64 publishers: no transformation %.0f then %.0f deliveries/s (%.0f %% and %.0f %% of raw; CPU %s and %s per delivery); "+
			"Slack connector on every endpoint %.0f deliveries/s (%.0f %% of raw; CPU %s per delivery): %.0f %% of no transformation, %.0f %% raw-adjusted, CPU per delivery ×%.2f",
			events, endpoints, before.deliveriesPerSec, after.deliveriesPerSec, before.deliveriesPerSec/before.rawPerSec*100, after.deliveriesPerSec/after.rawPerSec*100,
			before.cpuPerDelivery, after.cpuPerDelivery, slack.deliveriesPerSec, slack.deliveriesPerSec/slack.rawPerSec*100, slack.cpuPerDelivery,
			slack.deliveriesPerSec/none*100, slack.deliveriesPerSec/slack.rawPerSec/noneOfRaw*100, float64(slack.cpuPerDelivery)/float64(noneCPU))
	}
}

// BenchmarkOrdered compares deliveries/s to 10 ordered endpoints with the
// same run unordered, events about 1,000 bookings, and reports the figure
// with 10 bookings (few, hot keys), each beside its raw baseline. Run:
//
//	go test ./e2e -run '^$' -bench Ordered -benchtime 1x
func BenchmarkOrdered(b *testing.B) {
	events := benchEnv("HOOKBOOK_BENCH_EVENTS", 2000)
	const endpoints = 10
	for i := 0; i < b.N; i++ {
		unordered := runEngineBench(b, events, endpoints, 64, nil, benchKeys{keys: 1000})
		ordered := runEngineBench(b, events, endpoints, 64, nil, benchKeys{keys: 1000, ordered: true})
		hot := runEngineBench(b, events, endpoints, 64, nil, benchKeys{keys: 10, ordered: true})
		b.ReportMetric(unordered.deliveriesPerSec, "unordered_dlv/s")
		b.ReportMetric(ordered.deliveriesPerSec, "ordered_1000_dlv/s")
		b.ReportMetric(hot.deliveriesPerSec, "ordered_10_dlv/s")
		b.ReportMetric(ordered.deliveriesPerSec/unordered.deliveriesPerSec*100, "%_ordered_of_unordered")
		b.Logf("%d events × %d endpoints: unordered (1,000 keys) %.0f deliveries/s (raw %.0f, %.0f %%); ordered, 1,000 keys %.0f/s (%.0f %% of unordered; p50 %s p99 %s); ordered, 10 keys %.0f/s (%.0f %% of unordered; p50 %s p99 %s)",
			events, endpoints, unordered.deliveriesPerSec, unordered.rawPerSec, unordered.deliveriesPerSec/unordered.rawPerSec*100,
			ordered.deliveriesPerSec, ordered.deliveriesPerSec/unordered.deliveriesPerSec*100, ordered.p50, ordered.p99,
			hot.deliveriesPerSec, hot.deliveriesPerSec/unordered.deliveriesPerSec*100, hot.p50, hot.p99)
	}
}

// benchFilter is a payload filter of four conditions that the engine
// benchmark's events match (so that the deliveries are the same), on the
// event type and on fields of the data, one of them nested.
var benchFilter = map[string]any{"event": "booking.created", "data": map[string]any{
	"location": "Main Square", "participants": map[string]any{"$gte": 2},
	"status": map[string]any{"$in": []string{"confirmed", "pending"}}, "customer": map[string]any{"email": map[string]any{"$endsWith": "@example.com"}}}}

// BenchmarkEngineFilter runs the engine benchmark (64 publishing clients)
// with benchFilter on every endpoint beside the same run without filters,
// in the order plain, filtered, filtered, plain (so the machine's drift
// weighs on both alike), and reports the filtered deliveries/s as a
// percentage of the plain ones, directly and with each run's deliveries/s
// taken against its own raw baseline, and the CPU per delivery.
// HOOKBOOK_BENCH_CONTROL=1 runs the middle pair without filters too (a
// control: what the order of the runs alone does to the figures). Run:
//
//	go test ./e2e -run '^$' -bench EngineFilter -benchtime 1x
func BenchmarkEngineFilter(b *testing.B) {
	events := benchEnv("HOOKBOOK_BENCH_EVENTS", 2000)
	endpoints := benchEnv("HOOKBOOK_BENCH_ENDPOINTS", 10)
	publishers := benchEnv("HOOKBOOK_BENCH_PUBLISHERS", 64)
	filtered := benchKeys{filter: benchFilter}
	if os.Getenv("HOOKBOOK_BENCH_CONTROL") != "" {
		filtered = benchKeys{} // the same order without any filter: what the order alone does
	}
	for i := 0; i < b.N; i++ {
		p1 := runEngineBench(b, events, endpoints, publishers, nil)
		f1 := runEngineBench(b, events, endpoints, publishers, nil, filtered)
		f2 := runEngineBench(b, events, endpoints, publishers, nil, filtered)
		p2 := runEngineBench(b, events, endpoints, publishers, nil)
		plain, filt := (p1.deliveriesPerSec+p2.deliveriesPerSec)/2, (f1.deliveriesPerSec+f2.deliveriesPerSec)/2
		// Each run against its own raw baseline too: the machine's speed
		// swings between runs, and the baseline swings with it.
		ofRaw := func(r benchResult) float64 { return r.deliveriesPerSec / r.rawPerSec }
		normalized := (ofRaw(f1) + ofRaw(f2)) / (ofRaw(p1) + ofRaw(p2)) * 100
		b.ReportMetric(plain, "plain_dlv/s")
		b.ReportMetric(filt, "filtered_dlv/s")
		b.ReportMetric(filt/plain*100, "%_filtered_of_plain")
		b.ReportMetric(normalized, "%_filtered_of_plain_vs_raw")
		b.ReportMetric(float64(f1.cpuPerDelivery+f2.cpuPerDelivery)/float64(p1.cpuPerDelivery+p2.cpuPerDelivery)*100, "%_cpu_filtered_of_plain")
		b.Logf("%d events × %d endpoints, %d publishers: plain %.0f, %.0f deliveries/s (raw %.0f, %.0f; CPU/delivery %s, %s); filtered %.0f, %.0f deliveries/s (raw %.0f, %.0f; CPU/delivery %s, %s); filtered %.0f %% of plain (%.0f %% with each run against its raw baseline)",
			events, endpoints, publishers, p1.deliveriesPerSec, p2.deliveriesPerSec, p1.rawPerSec, p2.rawPerSec, p1.cpuPerDelivery, p2.cpuPerDelivery,
			f1.deliveriesPerSec, f2.deliveriesPerSec, f1.rawPerSec, f2.rawPerSec, f1.cpuPerDelivery, f2.cpuPerDelivery, filt/plain*100, normalized)
	}
}

type benchResult struct {
	rawPerSec, eventsPerSec, deliveriesPerSec float64
	// barePerSec is a bare hub's deliveries/s (bareHub) with the same
	// publishers, measured after the raw baseline; 0 when not measured.
	barePerSec float64
	p50, p99   time.Duration
	// CPU time of the whole process (receivers and clients included) per
	// delivery, and per request of the raw baseline.
	cpuPerDelivery, rawCPUPerRequest time.Duration
}

const benchBody = `{"id":"bkg_01JQ2Z8Y5V4N6T7R8S9A0B1C2D","status":"confirmed","service":{"id":"svc_01JQ2Z8Y5V4N6T7R8S9A0B1C2E","name":"City Walking Tour"},"slot_id":"slot_01JQ2Z8Y5V4N6T7R8S9A0B1C2F","customer":{"id":"cus_01JQ2Z8Y5V4N6T7R8S9A0B1C2G","name":"Jane Doe","email":"jane@example.com"},"starts_at":"2026-03-25T14:00:00Z","ends_at":"2026-03-25T15:30:00Z","participants":2,"notes":"Window seat, please","location":"Main Square","total_amount":9000,"currency":"USD","created_at":"2026-03-24T14:30:00Z","updated_at":"2026-03-24T14:30:00Z"}`

// benchKeys, when set, makes the engine benchmark's events about that
// many bookings (ordering keys), round-robin, to endpoints that are
// ordered or not.
type benchKeys struct {
	keys    int
	ordered bool
	// filter, when set, is every endpoint's payload filter.
	filter map[string]any
	// connector, when set, gives every endpoint that chat connector's
	// transformation (keys may then be 0: events without a key).
	connector string
}

// runEngineBench publishes events to endpoints receivers from publishers
// clients and measures the raw baseline around it.
func runEngineBench(b *testing.B, events, endpoints, publishers int, env map[string]string, keyed ...benchKeys) benchResult {
	b.Helper()
	b.StopTimer()
	recv := make([]*benchReceiver, endpoints)
	for i := range recv {
		recv[i] = newBenchReceiver()
		defer recv[i].srv.Close()
	}
	in := startBench(b, env)
	var opts map[string]any
	bodyOf := func(int64) []byte { return []byte(`{"event":"booking.created","data":` + benchBody + `}`) }
	if len(keyed) > 0 && keyed[0].connector != "" {
		opts = map[string]any{"connector": keyed[0].connector}
	}
	if len(keyed) > 0 && keyed[0].keys > 0 {
		k := keyed[0]
		opts = map[string]any{"ordered": k.ordered}
		if k.connector != "" {
			opts["connector"] = k.connector
		}
		bodyOf = func(i int64) []byte {
			key := fmt.Sprintf("bkg_%026d", i%int64(k.keys))
			data := strings.Replace(benchBody, "bkg_01JQ2Z8Y5V4N6T7R8S9A0B1C2D", key, 1)
			return []byte(`{"event":"booking.created","ordering_key":"` + key + `","data":` + data + `}`)
		}
	}
	if len(keyed) > 0 && keyed[0].filter != nil {
		if opts == nil {
			opts = map[string]any{}
		}
		opts["filter"] = keyed[0].filter
	}
	for _, r := range recv {
		in.createEndpoint(r.srv.URL, []string{"booking.*"}, opts)
	}
	concurrency := min(256, 16*endpoints) // the dispatcher's workers, capped per endpoint

	// Raw baseline: the same number of requests straight to the receivers.
	envelope := []byte(`{"id":"evt_x","event":"booking.created","timestamp":"2026-03-24T14:30:00Z","organization_id":"org_x","data":` + benchBody + `}`)
	cpu0 := processCPU()
	raw := rawBaseline(recv, events*endpoints, concurrency, envelope)
	rawCPU := processCPU() - cpu0
	for _, r := range recv {
		r.mu.Lock()
		r.first = map[string]time.Time{}
		r.mu.Unlock()
		r.count.Store(0)
	}

	b.StartTimer()
	stopProfile := profileHookbookPhase(b)
	start := time.Now()
	cpu0 = processCPU()
	published := publishBodies(b, in, []string{in.key}, events, publishers, bodyOf)
	accepted := time.Since(start)
	want := int64(events * endpoints)
	awaitDeliveries(b, recv, want)
	hookbookCPU := processCPU() - cpu0
	stopProfile()
	var last time.Time
	var lat []time.Duration
	for _, r := range recv {
		r.mu.Lock()
		for id, at := range r.first {
			if at.After(last) {
				last = at
			}
			if p, ok := published[id]; ok {
				lat = append(lat, at.Sub(p))
			}
		}
		r.mu.Unlock()
	}
	b.StopTimer()
	in.stop()
	// The baseline again, right after: the mean of both brackets the
	// hookbook run against the machine's drift.
	cpu0 = processCPU()
	raw = (raw + rawBaseline(recv, events*endpoints, concurrency, envelope)) / 2
	rawCPU += processCPU() - cpu0
	bare := 0.0
	if len(keyed) == 0 && env == nil {
		bare = bareBurst(b, recv, events, publishers, concurrency, false)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(float64(len(lat)-1)*p)]
	}
	return benchResult{
		rawPerSec:        raw,
		barePerSec:       bare,
		eventsPerSec:     float64(events) / accepted.Seconds(),
		deliveriesPerSec: float64(want) / last.Sub(start).Seconds(),
		p50:              pct(0.50),
		p99:              pct(0.99),
		cpuPerDelivery:   hookbookCPU / time.Duration(want),
		rawCPUPerRequest: rawCPU / time.Duration(2*want),
	}
}

// profileHookbookPhase writes a CPU profile of the hookbook part of an
// engine benchmark (publication to the last receipt, without the raw
// baseline) to HOOKBOOK_BENCH_CPUPROFILE when it is set, one file per run
// (the run's number appended after the first). It returns the function
// that stops it.
func profileHookbookPhase(b *testing.B) func() {
	path := os.Getenv("HOOKBOOK_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	if n := profileRuns.Add(1); n > 1 {
		path = fmt.Sprintf("%s.%d", path, n)
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatalf("%v (HOOKBOOK_BENCH_CPUPROFILE cannot be used with -cpuprofile)", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

var profileRuns atomic.Int64

// processCPU returns the CPU time this process has used (user and system):
// the benchmark's receivers, clients and hookbook alike. CPU per request is
// steadier than requests per second on a machine shared with others.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// awaitDeliveries waits until the receivers got want requests in all.
func awaitDeliveries(b *testing.B, recv []*benchReceiver, want int64) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var got int64
		for _, r := range recv {
			got += r.count.Load()
		}
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d deliveries arrived", got, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// rawSecret signs the raw baseline's requests.
const rawSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// rawBaseline sends n POSTs spread over the receivers with a plain
// keep-alive client, each signed as hookbook signs a delivery, and returns
// requests per second.
func rawBaseline(recv []*benchReceiver, n, concurrency int, body []byte) float64 {
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 16}}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				r := recv[int(i)%len(recv)]
				req, _ := http.NewRequest("POST", r.srv.URL, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				// The same signature headers hookbook computes per request.
				if err := webhook.SignHeaders(req.Header, webhook.DefaultPrefix, "", fmt.Sprintf("raw_%d", i), time.Now(), body, []string{rawSecret}); err != nil {
					panic(err)
				}
				send(client, req)
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

// send makes req and reads its answer to the end, so that the connection
// is kept for the next request.
func send(client *http.Client, req *http.Request) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// BenchmarkIsolation measures how much a bad endpoint costs the healthy
// ones: 10 endpoints receive the same events; in the second and third runs
// one of them hangs until its timeout or refuses connections. It reports
// the 9 healthy endpoints' deliveries/s in each run, measured in the same
// benchmark, and their ratio to the all-healthy run.
//
//	go test ./e2e -run '^$' -bench Isolation -benchtime 1x
func BenchmarkIsolation(b *testing.B) {
	events := benchEnv("HOOKBOOK_BENCH_EVENTS", 2000)
	for i := 0; i < b.N; i++ {
		healthy := isolationRun(b, events, "")
		hang := isolationRun(b, events, "hang")
		refuse := isolationRun(b, events, "refuse")
		b.ReportMetric(healthy, "healthy_dlv/s")
		b.ReportMetric(hang/healthy*100, "%_with_hanging")
		b.ReportMetric(refuse/healthy*100, "%_with_refusing")
		b.Logf("9 healthy endpoints, %d events: all healthy %.0f deliveries/s; beside a hanging endpoint %.0f (%.0f %%); beside a refusing one %.0f (%.0f %%)",
			events, healthy, hang, hang/healthy*100, refuse, refuse/healthy*100)
	}
}

// isolationRun publishes events to 9 healthy receivers and a tenth that is
// healthy, hangs ("hang") or refuses connections ("refuse"), and returns the
// healthy receivers' deliveries/s.
func isolationRun(b *testing.B, events int, bad string) float64 {
	b.Helper()
	recv := make([]*benchReceiver, 9)
	for i := range recv {
		recv[i] = newBenchReceiver()
		defer recv[i].srv.Close()
	}
	var tenth string
	switch bad {
	case "":
		r := newBenchReceiver()
		defer r.srv.Close()
		tenth = r.srv.URL
	case "hang":
		stop := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		}))
		defer srv.Close()
		defer close(stop)
		tenth = srv.URL
	case "refuse":
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		tenth = "http://" + ln.Addr().String()
		ln.Close() // nothing listens there any more: connections are refused
	}
	in := startBench(b, nil)
	for _, r := range recv {
		in.createEndpoint(r.srv.URL, []string{"*"}, nil)
	}
	in.createEndpoint(tenth, []string{"*"}, map[string]any{"timeout_seconds": 5})
	start := time.Now()
	publishAll(b, in, events, 64)
	want := int64(events * len(recv))
	awaitDeliveries(b, recv, want)
	var last time.Time
	for _, r := range recv {
		r.mu.Lock()
		for _, at := range r.first {
			if at.After(last) {
				last = at
			}
		}
		r.mu.Unlock()
	}
	in.stop()
	return float64(want) / last.Sub(start).Seconds()
}

// publishAll publishes n booking.created events with the instance's key
// and the given concurrency, and returns when each was sent, by event id.
func publishAll(b *testing.B, in *instance, n, concurrency int) map[string]time.Time {
	return publishTenants(b, in, []string{in.key}, n, concurrency)
}

// BenchmarkBackends compares deliveries/s on SQLite, PostgreSQL with one
// instance and PostgreSQL with three instances sharing the work, beside the
// raw baseline, all in one run. It needs PostgreSQL (HOOKBOOK_TEST_POSTGRES_URL).
//
//	go test ./e2e -run '^$' -bench Backends -benchtime 1x
func BenchmarkBackends(b *testing.B) {
	events := benchEnv("HOOKBOOK_BENCH_EVENTS", 2000)
	const endpoints = 10
	for i := 0; i < b.N; i++ {
		t := map[string]float64{}
		var raw float64
		for _, c := range []struct {
			name      string
			backend   string
			instances int
		}{{"sqlite", "sqlite", 1}, {"postgres_1", "postgres", 1}, {"postgres_3", "postgres", 3}} {
			os.Setenv("HOOKBOOK_TEST_BACKEND", c.backend)
			res := clusterBench(b, events, endpoints, c.instances)
			t[c.name] = res.deliveriesPerSec
			if res.barePerSec > 0 {
				t[c.name+"_bare"] = res.barePerSec
			}
			if raw == 0 {
				raw = res.rawPerSec
			}
		}
		os.Unsetenv("HOOKBOOK_TEST_BACKEND")
		for _, k := range []string{"sqlite", "postgres_1", "postgres_3"} {
			b.ReportMetric(t[k], k+"_dlv/s")
		}
		b.ReportMetric(raw, "raw_req/s")
		b.ReportMetric(t["postgres_1_bare"], "postgres_bare_hub_dlv/s")
		b.Logf("%d events × %d endpoints: raw %.0f req/s; SQLite %.0f deliveries/s (%.0f %%; a bare hub %.0f, %.0f %%); PostgreSQL 1 instance %.0f (%.0f %%, goal ≥ 25 %%; a bare hub %.0f, %.0f %%); 3 instances %.0f (%.0f %%)",
			events, endpoints, raw, t["sqlite"], t["sqlite"]/raw*100, t["sqlite_bare"], t["sqlite_bare"]/raw*100,
			t["postgres_1"], t["postgres_1"]/raw*100, t["postgres_1_bare"], t["postgres_1_bare"]/raw*100, t["postgres_3"], t["postgres_3"]/raw*100)
	}
}

// clusterBench runs instances on one fresh database, publishes events
// round-robin through them and measures deliveries/s to local receivers;
// its raw baseline is measured first, in the same run.
func clusterBench(b *testing.B, events, endpoints, instances int) benchResult {
	recv := make([]*benchReceiver, endpoints)
	for i := range recv {
		recv[i] = newBenchReceiver()
		defer recv[i].srv.Close()
	}
	envelope := []byte(`{"id":"evt_x","event":"booking.created","timestamp":"2026-03-24T14:30:00Z","organization_id":"org_x","data":` + benchBody + `}`)
	raw := rawBaseline(recv, events*endpoints, min(256, 16*endpoints), envelope)
	for _, r := range recv {
		r.count.Store(0)
		r.mu.Lock()
		r.first = map[string]time.Time{}
		r.mu.Unlock()
	}
	env := map[string]string{"HOOKBOOK_DATABASE_URL": databaseURL(b)}
	var ins []*instance
	for i := 0; i < instances; i++ {
		ins = append(ins, startBench(b, env))
	}
	for _, r := range recv {
		ins[0].createEndpoint(r.srv.URL, []string{"*"}, nil)
	}
	start := time.Now()
	per := events / instances
	var wg sync.WaitGroup
	for _, in := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			publishAll(b, in, per, 64/instances)
		}()
	}
	wg.Wait()
	want := int64(per * instances * endpoints)
	awaitDeliveries(b, recv, want)
	took := time.Since(start)
	for _, in := range ins {
		in.stop()
	}
	// One instance is measured beside a bare hub on the same database
	// (bareHub): its floor there.
	bare := 0.0
	if instances == 1 {
		bare = bareBurst(b, recv, events, 64, min(256, 16*endpoints), hookbooktest.Backend() == "postgres")
	}
	return benchResult{rawPerSec: raw, deliveriesPerSec: float64(want) / took.Seconds(), barePerSec: bare}
}

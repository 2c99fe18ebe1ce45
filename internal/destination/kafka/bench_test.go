package kafka

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/brokertest"
	"github.com/hookbook/hookbook/internal/destination"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkKafkaPublish compares the kafka Publisher with a franz-go
// idempotent producer's ProduceSync directly, against the same kfake
// cluster in the same run (kfake is in-process, so this measures the
// client side, not a Kafka broker).
// Run: go test -run XXX -bench KafkaPublish ./internal/destination/kafka/
func BenchmarkKafkaPublish(b *testing.B) {
	c := cluster(b)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("bookings"), kgo.ProducerLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	p := open(b, fmt.Sprintf(`{"brokers":%s,"topic":"bookings"}`, brokersJSON(c)), brokertest.Dial)
	ctx := context.Background()
	m := message(1, "bkg_1", 1)
	direct := func(m *destination.Message) error {
		rec := &kgo.Record{Key: []byte(m.Key), Value: m.Body}
		for _, h := range m.Headers {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Name, Value: []byte(h.Value)})
		}
		return cl.ProduceSync(ctx, rec).FirstErr()
	}
	hookbook := func(m *destination.Message) error { return p.Publish(ctx, m) }
	b.Run("interleaved", func(b *testing.B) {
		interleaved(b, func() error { return direct(m) }, func() error { return hookbook(m) })
	})
	for _, mode := range []string{"serial", "parallel8"} {
		for _, cs := range []struct {
			name string
			pub  func(*destination.Message) error
		}{{"direct", direct}, {"hookbook", hookbook}} {
			b.Run(mode+"/"+cs.name, func(b *testing.B) {
				if mode == "serial" {
					for b.Loop() {
						if err := cs.pub(m); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := cs.pub(m); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// interleaved publishes rounds of 8 goroutines × 25 messages, by turns
// directly and through the Publisher, so that both see the same machine
// load, and reports each one's messages per second and their ratio.
func interleaved(b *testing.B, direct, hookbook func() error) {
	const workers, per = 8, 25
	round := func(pub func() error) time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range per {
					if err := pub(); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	var d, h time.Duration
	rounds := 0
	for b.Loop() {
		d += round(direct)
		h += round(hookbook)
		rounds++
	}
	n := float64(rounds * workers * per)
	b.ReportMetric(n/d.Seconds(), "direct-msg/s")
	b.ReportMetric(n/h.Seconds(), "hookbook-msg/s")
	b.ReportMetric(d.Seconds()/h.Seconds(), "ratio")
}

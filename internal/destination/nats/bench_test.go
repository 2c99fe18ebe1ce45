package nats

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookbook/hookbook/internal/brokertest"
	"github.com/hookbook/hookbook/internal/destination"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkNATSPublish compares the nats Publisher with nats.go's
// JetStream publishing directly to the same stream in the same run, one
// message at a time (each waiting for its ack) and from 8 goroutines at
// once. Run: go test -run XXX -bench NATSPublish ./internal/destination/nats/
func BenchmarkNATSPublish(b *testing.B) {
	brokertest.Require(b, "NATS", sharedAddr)
	nc, err := natsgo.Connect("nats://" + sharedAddr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	prefix := "hbbench" + randomID()
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: prefix, Subjects: []string{prefix + ".>"}, Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	defer js.DeleteStream(ctx, prefix)
	p := open(b, fmt.Sprintf(`{"url":"nats://%s","subject":"%s.{event}"}`, sharedAddr, prefix))
	var n atomic.Int64
	msg := func() *destination.Message {
		m := message(int(n.Add(1)), "k")
		m.EventID = fmt.Sprintf("evt_%s_%d", prefix, n.Load())
		return m
	}
	direct := func(m *destination.Message) error {
		out := natsgo.NewMsg(prefix + ".booking.created")
		out.Data = m.Body
		for _, h := range m.Headers {
			out.Header.Add(h.Name, h.Value)
		}
		_, err := js.PublishMsg(ctx, out, jetstream.WithMsgID(m.EventID))
		return err
	}
	hookbook := func(m *destination.Message) error { return p.Publish(ctx, m) }
	b.Run("interleaved", func(b *testing.B) {
		interleaved(b, func() error { return direct(msg()) }, func() error { return hookbook(msg()) })
	})
	for _, mode := range []string{"serial", "parallel8"} {
		for _, c := range []struct {
			name string
			pub  func(*destination.Message) error
		}{{"direct", direct}, {"hookbook", hookbook}} {
			b.Run(mode+"/"+c.name, func(b *testing.B) {
				if mode == "serial" {
					for b.Loop() {
						if err := c.pub(msg()); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				b.SetParallelism(4) // 2 cores × 4 = 8 goroutines
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := c.pub(msg()); err != nil {
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

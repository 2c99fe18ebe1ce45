package mqtt

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/hookbook/hookbook/internal/brokertest"
	"github.com/hookbook/hookbook/internal/destination"
)

// BenchmarkMQTTPublish compares the mqtt Publisher with paho publishing
// directly at the same QoS (1, waiting for each PUBACK) in the same run,
// one message at a time and from 8 goroutines at once.
// Run: go test -run XXX -bench MQTTPublish ./internal/destination/mqtt/
func BenchmarkMQTTPublish(b *testing.B) {
	brokertest.Require(b, "Mosquitto", sharedAddr)
	topic := "hbbench/" + randomID()
	opts := paho.NewClientOptions().AddBroker("tcp://" + sharedAddr).SetClientID("hbbench-" + randomID()).SetOrderMatters(false)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	defer c.Disconnect(0)
	p := open(b, fmt.Sprintf(`{"url":"tcp://%s","topic":"%s/{event}","qos":1}`, sharedAddr, topic))
	m := message(1)
	ctx := context.Background()
	direct := func(m *destination.Message) error {
		tok := c.Publish(topic+"/booking.created", 1, false, m.Body)
		tok.Wait()
		return tok.Error()
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

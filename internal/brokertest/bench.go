package brokertest

import (
	"sync"
	"testing"
	"time"
)

// BenchPublish measures a destination's publish (hookbook) beside its
// broker client's own (direct), each call publishing one message, in
// sub-benchmarks: "interleaved" runs rounds of 8 goroutines × 25 messages
// by turns through each, so both see the same machine load, and reports
// direct-msg/s, hookbook-msg/s and their ratio (direct time over hookbook
// time); "serial/direct", "serial/hookbook" publish one at a time;
// "parallel8/direct", "parallel8/hookbook" from 8 goroutines on 2 cores.
func BenchPublish(b *testing.B, direct, hookbook func() error) {
	b.Run("interleaved", func(b *testing.B) { interleaved(b, direct, hookbook) })
	for _, mode := range []string{"serial", "parallel8"} {
		for _, cs := range []struct {
			name string
			pub  func() error
		}{{"direct", direct}, {"hookbook", hookbook}} {
			b.Run(mode+"/"+cs.name, func(b *testing.B) {
				if mode == "serial" {
					for b.Loop() {
						if err := cs.pub(); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				b.SetParallelism(4) // 2 cores × 4 = 8 goroutines
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := cs.pub(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

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

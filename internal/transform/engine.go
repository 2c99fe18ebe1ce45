package transform

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/dop251/goja"
)

// Limits bound one engine's runs; a zero field takes its default.
type Limits struct {
	// Timeout bounds one run's CPU time (default 100 ms; wall time where
	// CPU time cannot be measured, and MaxWallFactor times as long in any
	// case): a longer run is interrupted and fails.
	Timeout time.Duration
	// MaxHeap bounds how much the Go heap may grow while a run lasts
	// (default 256 MiB), sampled every millisecond and confirmed after a
	// collection; past it the run is interrupted and fails. The heap is
	// the process's, so concurrent runs count each other's growth
	// (Concurrency keeps that small), and so does the rest of the process:
	// the default is well above what a busy instance's own work grows by
	// in the second a run may last.
	MaxHeap uint64
	// Concurrency bounds the runs at once (default GOMAXPROCS); others wait.
	Concurrency int
	// MaxCallDepth bounds nested calls (default 256).
	MaxCallDepth int
}

// Default limits.
const (
	DefaultTimeout      = 100 * time.Millisecond
	DefaultMaxHeap      = 256 << 20
	DefaultMaxCallDepth = 256
	maxProgramCode      = 4 << 20 // source bytes of the compiled programs kept
)

// Engine runs transformations. Its zero value is not usable: use New.
type Engine struct {
	limits Limits
	// CheckURL checks a URL a transformation chose (the network guard);
	// nil accepts any http(s) URL.
	checkURL func(ctx context.Context, url string) error
	// reserved reports the header names hookbook sets itself.
	reserved func(name string) bool
	sem      chan struct{}
	idle     chan *sandbox // sandboxes to reuse

	mu           sync.Mutex
	programs     map[string]*goja.Program // by code
	programBytes int                      // their code's size
}

// New returns an engine with the given limits. checkURL is the network
// guard's check of a URL a transformation chose (nil: any http(s) URL);
// reserved reports the header names a transformation may not set (the
// signature and brand headers; nil: only those this package knows).
func New(l Limits, checkURL func(ctx context.Context, url string) error, reserved func(name string) bool) *Engine {
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	if l.MaxHeap == 0 {
		l.MaxHeap = DefaultMaxHeap
	}
	if l.Concurrency <= 0 {
		l.Concurrency = runtime.GOMAXPROCS(0)
	}
	if l.MaxCallDepth <= 0 {
		l.MaxCallDepth = DefaultMaxCallDepth
	}
	return &Engine{limits: l, checkURL: checkURL, reserved: reserved, sem: make(chan struct{}, l.Concurrency),
		idle:     make(chan *sandbox, l.Concurrency),
		programs: map[string]*goja.Program{}}
}

// Limits returns the engine's limits, defaults filled in.
func (e *Engine) Limits() Limits { return e.limits }

//go:embed prelude.js
var preludeSource string

var prelude = goja.MustCompile("prelude.js", preludeSource, true)

// program returns code compiled, from a cache of the programs of at most
// maxProgramCode bytes of code, emptied when full (a program takes some
// ten times its code's size).
func (e *Engine) program(code string) (*goja.Program, error) {
	e.mu.Lock()
	p := e.programs[code]
	e.mu.Unlock()
	if p != nil {
		return p, nil
	}
	p, err := compile(code)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if e.programBytes+len(code) > maxProgramCode {
		clear(e.programs)
		e.programBytes = 0
	}
	if _, ok := e.programs[code]; !ok {
		e.programs[code] = p
		e.programBytes += len(code)
	}
	e.mu.Unlock()
	return p, nil
}

type stop string

const (
	stopTimeout stop = "timeout"
	stopMemory  stop = "memory"
)

// Run runs code's handler on in, at now (what Date sees), and returns the
// checked result. A failure of the transformation is an *Error; an error
// of another kind means ctx ended while waiting for a free run.
func (e *Engine) Run(ctx context.Context, code string, in *Webhook, now time.Time) (*Webhook, error) {
	p, err := e.program(code)
	if err != nil {
		return nil, err
	}
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting to run a transformation: %w", ctx.Err())
	}
	defer func() { <-e.sem }()
	raw, err := e.run(p, in, now)
	if err != nil {
		return nil, err
	}
	return e.checkOutput(ctx, in, raw)
}

// sandbox is a runtime set up for transformations: bounded builtins,
// every builtin and the global object frozen. One run uses it at a time;
// since a run can change nothing that outlives it, it is reused.
type sandbox struct {
	vm    *goja.Runtime
	parse goja.Callable
}

func (e *Engine) newSandbox() (*sandbox, error) {
	vm := goja.New()
	vm.SetMaxCallStackSize(e.limits.MaxCallDepth)
	setup, err := vm.RunProgram(prelude)
	if err != nil {
		return nil, fmt.Errorf("transformation sandbox: %w", err)
	}
	fn, _ := goja.AssertFunction(setup)
	freezer, err := fn(goja.Undefined(), vm.GlobalObject(), vm.ToValue(MaxArrayLength), vm.ToValue(MaxStringLength),
		vm.ToValue(joinedLength(vm)))
	if err != nil {
		return nil, fmt.Errorf("transformation sandbox: %w", err)
	}
	jsonObj := vm.Get("JSON").ToObject(vm)
	parse, _ := goja.AssertFunction(jsonObj.Get("parse"))
	boundStringify(vm, jsonObj)
	freezeAll, _ := goja.AssertFunction(freezer)
	if _, err := freezeAll(goja.Undefined()); err != nil {
		return nil, fmt.Errorf("transformation sandbox: %w", err)
	}
	return &sandbox{vm: vm, parse: parse}, nil
}

// webhook builds the object a handler receives.
func (sb *sandbox) webhook(in *Webhook) (goja.Value, error) {
	vm := sb.vm
	payload, err := toValue(vm, in.Payload)
	if err != nil {
		if payload, err = sb.parse(goja.Undefined(), vm.ToValue(string(in.Payload))); err != nil {
			return nil, err
		}
	}
	headers := vm.NewObject()
	for _, k := range slices.Sorted(maps.Keys(in.Headers)) {
		headers.Set(k, in.Headers[k])
	}
	w := vm.NewObject()
	for _, f := range []struct {
		k string
		v any
	}{{"eventType", in.EventType}, {"payload", payload}, {"url", in.URL}, {"method", in.Method}, {"headers", headers}} {
		if err := w.Set(f.k, f.v); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// sandbox returns an idle sandbox, or a new one.
func (e *Engine) sandbox() (*sandbox, error) {
	select {
	case sb := <-e.idle:
		return sb, nil
	default:
		return e.newSandbox()
	}
}

// run executes one program in a bounded sandbox and returns the handler's
// result read into Go values. A sandbox whose run was stopped (time,
// memory, call depth) or broke is dropped, not reused.
func (e *Engine) run(p *goja.Program, in *Webhook, now time.Time) (out *output, err error) {
	sb, err := e.sandbox()
	if err != nil {
		return nil, err
	}
	vm := sb.vm
	vm.ClearInterrupt()
	vm.SetTimeSource(func() time.Time { return now })
	seed := uint64(now.UnixNano())
	r := rand.New(rand.NewPCG(seed, seed>>1))
	vm.SetRandSource(r.Float64)
	timer := e.cpuTimer(vm)
	heap := watchHeapAfter(vm, e.limits.MaxHeap, time.Millisecond)
	reuse := false
	defer func() {
		if rec := recover(); rec != nil {
			// A getter or toJSON read from Go throws, or is stopped, by panicking.
			out, err, reuse = nil, Failf("failed: %v", rec), false
			if re, ok := rec.(error); ok {
				err = e.describe(re)
			}
		}
		stopped := timer.Stop()
		runtime.UnlockOSThread() // before waiting: a locked thread that blocks hands its P off
		heap.stop()              // no interrupt of this run can reach the next one
		if reuse && stopped {
			select {
			case e.idle <- sb:
			default:
			}
		}
	}()
	out, err = e.call(sb, p, in)
	if err != nil {
		var ex *goja.Exception
		var te *Error
		reuse = errors.As(err, &ex) || errors.As(err, &te)
		return nil, e.describe(err)
	}
	reuse = true
	return out, nil
}

// MaxWallFactor bounds a run in wall time: Limits.Timeout of CPU time, but
// never more than this many times as long, however busy the machine.
const MaxWallFactor = 10

// cpuTimer locks the calling goroutine to its thread and returns a timer
// that interrupts vm once the thread has spent Limits.Timeout on a CPU
// during the run (where that can be measured; else after that long), or
// after MaxWallFactor times as long in any case: a machine too busy to
// run the code does not count against it.
func (e *Engine) cpuTimer(vm *goja.Runtime) *time.Timer {
	runtime.LockOSThread()
	limit, tid, wall0 := e.limits.Timeout, threadID(), time.Now()
	cpu0, measured := ownCPU()
	var timer *time.Timer
	timer = time.AfterFunc(time.Duration(math.MaxInt64), func() {
		if measured && time.Since(wall0) < MaxWallFactor*limit {
			if now, ok := threadCPU(tid); ok && now-cpu0 < limit {
				timer.Reset(limit - (now - cpu0))
				return
			}
		}
		vm.Interrupt(stopTimeout)
	})
	timer.Reset(limit)
	return timer
}

// call runs the program and calls its handler on the input.
func (e *Engine) call(sb *sandbox, p *goja.Program, in *Webhook) (*output, error) {
	vm := sb.vm
	wrapper, err := vm.RunProgram(p)
	if err != nil {
		return nil, err
	}
	body, _ := goja.AssertFunction(wrapper)
	h, err := body(goja.Undefined())
	if err != nil {
		return nil, err
	}
	handler, ok := goja.AssertFunction(h)
	if !ok {
		return nil, Failf("handler is not a function")
	}
	arg, err := sb.webhook(in)
	if err != nil {
		return nil, err
	}
	res, err := handler(goja.Undefined(), arg)
	if err != nil {
		return nil, err
	}
	return readOutput(vm, res)
}

// describe turns a run's error into the transformation's *Error.
func (e *Engine) describe(err error) error {
	var te *Error
	var ie *goja.InterruptedError
	var ex *goja.Exception
	var so *goja.StackOverflowError
	switch {
	case errors.As(err, &te):
		return te
	case errors.As(err, &ie):
		if ie.Value() == stopMemory {
			return Failf("used more than %d MiB of memory and was stopped", e.limits.MaxHeap>>20)
		}
		return Failf("ran longer than %s and was stopped", e.limits.Timeout)
	case errors.As(err, &so):
		return Failf("exceeded the call depth of %d", e.limits.MaxCallDepth)
	case errors.As(err, &ex):
		return Failf("threw %s", ex.Error())
	}
	return Failf("failed: %s", err.Error())
}

var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
var heapMu sync.Mutex

func heapBytes() uint64 {
	heapMu.Lock()
	defer heapMu.Unlock()
	metrics.Read(heapSample)
	if heapSample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return heapSample[0].Value.Uint64()
}

// heapWatch watches the heap during one run, from a delay on.
type heapWatch struct {
	timer         *time.Timer
	done, watched chan struct{}
}

// watchHeapAfter starts watching the heap for vm's run after delay (most
// runs are over by then: they start no goroutine and read nothing).
func watchHeapAfter(vm *goja.Runtime, limit uint64, delay time.Duration) *heapWatch {
	w := &heapWatch{done: make(chan struct{}), watched: make(chan struct{})}
	w.timer = time.AfterFunc(delay, func() { watchHeap(vm, limit, w.done); close(w.watched) })
	return w
}

// stop ends the watch and returns once it can no longer interrupt vm.
func (w *heapWatch) stop() {
	if w.timer.Stop() {
		return // it never started
	}
	close(w.done)
	<-w.watched
}

// watchHeap interrupts vm when the heap grows by more than limit while it
// runs, measured from a first sample taken at once, then every
// millisecond until done. Garbage counts until collected, so the first
// time the limit is passed it collects and looks again.
func watchHeap(vm *goja.Runtime, limit uint64, done <-chan struct{}) {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	base := heapBytes()
	collected := false
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		h := heapBytes()
		if h > base && h-base > limit {
			if !collected {
				collected = true
				runtime.GC()
				if h := heapBytes(); h <= base || h-base <= limit {
					continue
				}
			}
			vm.Interrupt(stopMemory)
			return
		}
	}
}

// joinedLength adds up the lengths of the first n elements of an array as
// strings, stopping past limit: the prelude's measure before a join.
func joinedLength(vm *goja.Runtime) func(goja.FunctionCall) goja.Value {
	return func(call goja.FunctionCall) goja.Value {
		return vm.ToValue(measureJoin(call))
	}
}

func measureJoin(call goja.FunctionCall) int64 {
	o, ok := call.Argument(0).(*goja.Object)
	n, limit := call.Argument(1).ToInteger(), call.Argument(2).ToInteger()
	var total int64
	for i := int64(0); ok && i < n && total <= limit; i++ {
		v := o.Get(strconv.FormatInt(i, 10))
		switch {
		case v == nil || goja.IsUndefined(v) || goja.IsNull(v):
		default:
			total += int64(len(v.String()))
		}
	}
	return total
}

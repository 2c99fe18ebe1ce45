package admin

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	th := newThrottle(3, time.Minute)
	now := time.Now()
	for i := range 3 {
		if _, blocked := th.Blocked("1.2.3.4", now); blocked {
			t.Fatalf("blocked after %d failures", i)
		}
		th.Fail("1.2.3.4", now)
	}
	if wait, blocked := th.Blocked("1.2.3.4", now.Add(time.Second)); !blocked || wait <= 0 || wait > time.Minute {
		t.Errorf("after 3 failures: blocked %v for %s", blocked, wait)
	}
	if _, blocked := th.Blocked("5.6.7.8", now); blocked {
		t.Error("another address is blocked")
	}
	if _, blocked := th.Blocked("1.2.3.4", now.Add(2*time.Minute)); blocked {
		t.Error("still blocked after the window")
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:5555"
	if got := clientAddr(r); got != "10.0.0.1" {
		t.Errorf("clientAddr = %q", got)
	}
}

package httpapi_test

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hookbook/hookbook/internal/hookbooktest"
	"github.com/hookbook/hookbook/internal/inbound"
	"github.com/hookbook/hookbook/webhook"
)

// FuzzInbound sends arbitrary command bodies and signature headers to the
// inbound endpoint on a real store, with every scope granted: correctly
// signed or not, the answer is 200 or a JSON 4xx, never a 500 or a panic,
// and an unsigned or wrongly signed body is never accepted.
func FuzzInbound(f *testing.F) {
	for _, seed := range []string{
		`{"action":"admin.slots.create","params":{"service_id":"svc_x","starts_at":"2030-01-01T00:00:00Z","ends_at":"2030-01-01T01:00:00Z"}}`,
		`{"action":"admin.community-events.approve","params":{"slugId":"x"},"data":{"full_name":"A","email":"a@b.c"}}`,
		`{"action":"public.booking.create","params":{"slot_id":5},"data":{"full_name":null}}`,
		`{"action":"admin.planner.block","params":{"starts_at":"x"}}`, `{"action":1}`, `[]`, `{`, ``,
	} {
		f.Add(seed, true, "")
		f.Add(seed, false, "sha256=00")
	}
	ctx := context.Background()
	in := hookbooktest.Start(f, nil)
	org, _ := in.App.Orgs.OrganizationByName(ctx, "default")
	svc := in.App.Inbound
	secret := "fuzz-inbound-secret-0123"
	if _, err := svc.SetSettings(ctx, org.ID, inbound.SettingsInput{Enabled: ptr(true), Secret: &secret, Scopes: &[]string{
		"admin.slots", "admin.appointments", "admin.links", "admin.planner", "admin.community-events", "public.booking", "public.appointment", "public.community"}}); err != nil {
		f.Fatal(err)
	}
	h := in.App.Handler()
	f.Fuzz(func(t *testing.T, body string, sign bool, sig string) {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		if sign {
			sig = webhook.SignHMAC(secret, mustInt(ts), []byte(body))
		}
		req := httptest.NewRequest("POST", "/api/public/webhooks/inbound", strings.NewReader(body))
		req.Header.Set("X-Hookbook-Signature", sig)
		req.Header.Set("X-Hookbook-Timestamp", ts)
		req.Header.Set("X-Hookbook-Request-Id", uuid.NewString())
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%q answered %d: %s", body, w.Code, w.Body)
		}
		if !sign && w.Code == 200 && sig != webhook.SignHMAC(secret, mustInt(ts), []byte(body)) {
			t.Fatalf("accepted a wrong signature %q", sig)
		}
		if w.Code >= 400 && !strings.Contains(w.Body.String(), `"error":{"code":`) {
			t.Fatalf("error answer without the error shape: %s", w.Body)
		}
	})
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

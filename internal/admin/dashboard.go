package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/ids"
	outbound "github.com/hookbook/hookbook/internal/outbound"
)

// ChartHours is how far back an endpoint's volume chart looks.
const ChartHours = 24

// endpointRow is an endpoint with its last 24 hours and, when this
// instance's circuit breaker holds its attempts back, until when.
type endpointRow struct {
	*hookbook.Endpoint
	Volume       outbound.Volume
	CircuitUntil *time.Time
}

func (u *UI) row(ep *hookbook.Endpoint, v outbound.Volume) endpointRow {
	return endpointRow{Endpoint: ep, Volume: v, CircuitUntil: u.circuitUntil(ep.ID)}
}

// circuitUntil is when the circuit breaker lets attempts to an endpoint
// resume, nil when its circuit is closed.
func (u *UI) circuitUntil(endpointID string) *time.Time {
	if u.Circuit == nil {
		return nil
	}
	if until, open := u.Circuit.OpenUntil(endpointID, time.Now()); open {
		return &until
	}
	return nil
}

// Finished is how many deliveries of the volume have finished, the base
// of its success rate.
func (r endpointRow) Finished() int { return r.Volume.Succeeded + r.Volume.Failed }

// rate writes a volume's success rate, "—" when nothing has finished.
func rate(v outbound.Volume) string {
	r, ok := v.SuccessRate()
	if !ok {
		return "—"
	}
	return fmt.Sprintf("%d %%", r)
}

// chart draws hourly volumes as stacked bars (succeeded, failed, pending)
// in inline SVG: no script, no external asset. The SVG keeps its aspect
// ratio (nothing stretched) and holds no text; the axis below it is HTML,
// with the date and hour of its first and last bar. Its text alternative
// sums it up for screen readers.
func chart(vs []outbound.Volume, now time.Time) template.HTML {
	const w, h, gap = 720, 120, 3
	max := 1
	for _, v := range vs {
		if v.Total() > max {
			max = v.Total()
		}
	}
	sum := outbound.Sum(vs)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="chart-title" preserveAspectRatio="xMidYMid meet">`, w, h+1)
	fmt.Fprintf(&b, `<title id="chart-title">Deliveries in the last %d hours: %d (%d succeeded, %d failed, %d pending); success rate %s</title>`,
		len(vs), sum.Total(), sum.Succeeded, sum.Failed, sum.Pending, rate(sum))
	bw := float64(w)/float64(len(vs)) - gap
	for i, v := range vs {
		x := float64(i) * (bw + gap)
		y := float64(h)
		for _, part := range []struct {
			n    int
			fill string
		}{{v.Succeeded, "#17804a"}, {v.Failed, "#b3261e"}, {v.Pending, "#8a5300"}} {
			if part.n == 0 {
				continue
			}
			ph := float64(part.n) / float64(max) * h
			y -= ph
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"></rect>`, x, y, bw, ph, part.fill)
		}
	}
	fmt.Fprintf(&b, `<line x1="0" y1="%d" x2="%d" y2="%d" stroke="#b9c0cc"></line>`, h, w, h)
	b.WriteString(`</svg>`)
	start := now.UTC().Truncate(time.Hour).Add(-time.Duration(len(vs)-1) * time.Hour)
	fmt.Fprintf(&b, `<p class="axis" aria-hidden="true"><span>%s</span><span>%s (now)</span></p>`,
		start.Format("2006-01-02 15:04 UTC"), now.UTC().Truncate(time.Hour).Format("2006-01-02 15:04 UTC"))
	return template.HTML(b.String()) // every value above is a number or a fixed string
}

// BodyPreview is how much of a body a page shows; the rest is a download.
const BodyPreview = 16 << 10

// preview is the start of a body for a page, pretty-printed: the whole of
// it up to BodyPreview bytes, else its first BodyPreview bytes (cut on a
// character boundary) and true.
func preview(s string) (string, bool) {
	p := pretty(s)
	if len(p) <= BodyPreview {
		return p, false
	}
	n := BodyPreview
	for n > 0 && !utf8.RuneStart(p[n]) {
		n--
	}
	return p[:n], true
}

// size writes a byte count for people: "980 bytes", "16 KiB", "1.0 MiB".
func size(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// download sends a body whole as an attachment: JSON as
// application/json, anything else as bytes, never as a page.
func download(w http.ResponseWriter, name, body string) {
	h := w.Header()
	ext, ctype := ".bin", "application/octet-stream"
	if json.Valid([]byte(body)) {
		ext, ctype = ".json", "application/json"
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", `attachment; filename="`+name+ext+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	io.WriteString(w, body)
}

// pretty indents a JSON text; anything else is returned as it is.
func pretty(s string) string {
	var out bytes.Buffer
	if len(s) == 0 || (s[0] != '{' && s[0] != '[') || json.Indent(&out, []byte(s), "", "  ") != nil {
		return s
	}
	return out.String()
}

// eventPage lists every delivery of one event, across endpoints.
func (u *UI) eventPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	e, err := u.Outbound.Event(ctx, s.Organization.ID, r.PathValue("id"))
	if err != nil {
		u.fail(w, s, err)
		return
	}
	list, err := u.Outbound.DeliveriesOfEvent(ctx, s.Organization.ID, e.ID)
	if err != nil {
		u.fail(w, s, err)
		return
	}
	urls := map[string]string{}
	for _, d := range list {
		if _, ok := urls[d.EndpointID]; ok {
			continue
		}
		urls[d.EndpointID] = "(deleted endpoint)"
		if ep, err := u.Outbound.Endpoint(ctx, s.Organization.ID, d.EndpointID); err == nil {
			urls[d.EndpointID] = ep.URL
		}
	}
	pg := u.base(r, s, "Event "+e.ID, "webhooks")
	body, cut := preview(string(e.Data))
	pg.Data = map[string]any{"Event": e, "Deliveries": list, "URLs": urls, "Body": body, "Cut": cut, "Size": len(e.Data),
		"Download": s.base + "/events/" + e.ID + "/data"}
	u.render(w, http.StatusOK, "event", pg)
}

// eventData serves an event's data whole, as a download.
func (u *UI) eventData(w http.ResponseWriter, r *http.Request, s *session) {
	e, err := u.Outbound.Event(r.Context(), s.Organization.ID, r.PathValue("id"))
	if err != nil {
		u.fail(w, s, err)
		return
	}
	download(w, e.ID, string(e.Data))
}

// search opens an event or a delivery by its id.
func (u *UI) search(w http.ResponseWriter, r *http.Request, s *session) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	ctx := r.Context()
	switch {
	case ids.Valid("evt", q):
		if _, err := u.Outbound.Event(ctx, s.Organization.ID, q); err == nil {
			http.Redirect(w, r, s.base+"/events/"+q, http.StatusSeeOther)
			return
		}
	case ids.Valid("dlv", q):
		if d, err := u.Outbound.Delivery(ctx, s.Organization.ID, q); err == nil {
			http.Redirect(w, r, s.base+"/webhooks/"+d.EndpointID+"/deliveries/"+d.ID, http.StatusSeeOther)
			return
		}
	}
	pg := u.base(r, s, "Search", "webhooks")
	pg.Form["q"] = q
	pg.Error = "No event or delivery has this id. Paste an id such as evt_01J… or dlv_01J…."
	u.render(w, http.StatusNotFound, "search", pg)
}

package httpapi

import (
	"compress/gzip"
	"net/http"
	"strings"
	"sync"
)

// What every API answer carries, whatever its route: nosniff, and gzip for
// a JSON answer of at least GzipMin bytes when the client accepts it.

// GzipMin is the smallest JSON answer sent gzip-compressed to a client whose
// Accept-Encoding allows gzip; a smaller one goes as it is.
const GzipMin = 1024

// WWWAuthenticate is the challenge of every 401 of the API: an API key,
// sent as a bearer token.
const WWWAuthenticate = `Bearer realm="hookbook"`

// answers sets X-Content-Type-Options: nosniff on every answer and
// compresses large JSON answers for clients that accept gzip.
func answers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Add("Vary", "Accept-Encoding")
		if !acceptsGzip(r.Header.Get("Accept-Encoding")) || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		gw := &gzipWriter{ResponseWriter: w, status: http.StatusOK}
		defer gw.finish()
		next.ServeHTTP(gw, r)
	})
}

// acceptsGzip reports whether an Accept-Encoding allows gzip (q > 0).
func acceptsGzip(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") && strings.TrimSpace(name) != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

var gzipPool = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression); return w }}

// gzipWriter holds an answer back until it knows whether to compress it:
// a JSON answer reaching GzipMin bytes is compressed, anything else (a
// small answer, another type, one already encoded) goes unchanged.
type gzipWriter struct {
	http.ResponseWriter
	status  int
	wrote   bool // WriteHeader was called
	decided bool
	buf     []byte
	zw      *gzip.Writer
}

func (g *gzipWriter) WriteHeader(code int) {
	if g.wrote || g.decided {
		return
	}
	if code < 200 || code == http.StatusNoContent || code == http.StatusNotModified {
		g.ResponseWriter.WriteHeader(code) // no body to compress
		g.decided = true
		return
	}
	g.status, g.wrote = code, true
}

func (g *gzipWriter) Write(b []byte) (int, error) {
	if g.decided {
		if g.zw != nil {
			return g.zw.Write(b)
		}
		return g.ResponseWriter.Write(b)
	}
	g.buf = append(g.buf, b...)
	if len(g.buf) >= GzipMin {
		if err := g.decide(); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// decide sends the header, compressed or not, and what was held back.
func (g *gzipWriter) decide() error {
	g.decided = true
	h := g.Header()
	compress := len(g.buf) >= GzipMin && h.Get("Content-Encoding") == "" &&
		strings.HasPrefix(h.Get("Content-Type"), "application/json")
	if compress {
		h.Set("Content-Encoding", "gzip")
		h.Del("Content-Length")
		g.zw = gzipPool.Get().(*gzip.Writer)
		g.zw.Reset(g.ResponseWriter)
	}
	g.ResponseWriter.WriteHeader(g.status)
	buf := g.buf
	g.buf = nil
	var err error
	if g.zw != nil {
		_, err = g.zw.Write(buf)
	} else if len(buf) > 0 {
		_, err = g.ResponseWriter.Write(buf)
	}
	return err
}

// finish sends what is held back and ends the gzip stream.
func (g *gzipWriter) finish() {
	if !g.decided {
		if !g.wrote && len(g.buf) == 0 {
			return // the handler wrote nothing: net/http answers 200
		}
		g.decide()
	}
	if g.zw != nil {
		g.zw.Close()
		gzipPool.Put(g.zw)
		g.zw = nil
	}
}

// Flush sends what is held back (compressed or not) and flushes it.
func (g *gzipWriter) Flush() {
	if !g.decided {
		g.decide()
	}
	if g.zw != nil {
		g.zw.Flush()
	}
	http.NewResponseController(g.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

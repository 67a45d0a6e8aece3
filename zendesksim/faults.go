package zendesksim

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault makes matching requests fail or slow down, for tests.
type Fault struct {
	// Method matches the request method; empty matches any.
	Method string
	// PathPrefix matches the start of the URL path; empty matches any.
	PathPrefix string
	// Query matches a request whose raw query contains it; empty matches any.
	Query string
	// Status is the status to answer with (429, 500, 503, ...); 0 only delays.
	Status int
	// RetryAfter, when positive, is sent as Retry-After in whole seconds.
	RetryAfter time.Duration
	// Delay is added before answering (latency injection).
	Delay time.Duration
	// Times is how many requests the fault applies to; 0 means once, negative
	// means until ClearFaults.
	Times int
	// AfterApply carries the request out and then answers with Status anyway: the
	// client cannot tell that its change was made (a lost response).
	AfterApply bool
}

// LoggedRequest is one request the simulator answered.
type LoggedRequest struct {
	Method string
	Path   string
	Query  string
	Status int
	Body   []byte
	Auth   string // "basic", "bearer" or ""
	At     time.Time
}

// InjectFault adds a fault; faults apply in the order they were added.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
}

// ClearFaults removes all faults.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Requests returns the request log, oldest first.
func (s *Server) Requests() []LoggedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]LoggedRequest, len(s.requests))
	copy(out, s.requests)
	return out
}

func (s *Server) takeFault(r *http.Request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(r.URL.Path, f.PathPrefix) && strings.Contains(r.URL.RawQuery, f.Query) {
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
				}
			}
			c := *f
			return &c
		}
	}
	return nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// middleware logs each request, applies faults and checks authentication.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &statusRecorder{ResponseWriter: w}
		auth := authKind(r)
		defer func() { s.logRequest(r, body, auth, rec.status) }()
		if f := s.takeFault(r); f != nil {
			if !sleepCtx(r, f.Delay) {
				rec.status = 499
				return
			}
			if f.Status != 0 && f.AfterApply && needsAuth(r) && s.authenticated(r) {
				next.ServeHTTP(&discardWriter{header: http.Header{}}, r)
			}
			if f.Status != 0 {
				if f.RetryAfter > 0 {
					w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
				}
				writeError(rec, f.Status, "SimulatedFault", http.StatusText(f.Status))
				return
			}
		}
		if needsAuth(r) && !s.authenticated(r) {
			writeJSON(rec, http.StatusUnauthorized, map[string]any{"error": "Couldn't authenticate you"})
			return
		}
		next.ServeHTTP(rec, r)
	})
}

func sleepCtx(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (s *Server) logRequest(r *http.Request, body []byte, auth string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, LoggedRequest{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: status,
		Body: body, Auth: auth, At: s.cfg.Now(),
	})
	s.cfg.Logger.WithFields(map[string]any{"method": r.Method, "path": r.URL.Path, "status": status}).Debug("zendesksim: request")
}

// discardWriter swallows a response whose request was applied but whose answer is
// replaced by a fault.
type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

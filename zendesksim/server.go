package zendesksim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is a simulated Zendesk account.
type Server struct {
	cfg Config

	mu          sync.Mutex
	ids         ids
	users       map[int64]*User
	orgs        map[int64]string
	tickets     map[int64]*ticket
	uploads     map[string]*upload
	attachments map[int64]*Attachment
	tokens      map[string]time.Time // OAuth access token -> expiry
	faults      []*Fault
	requests    []LoggedRequest
	exports     []time.Time // incremental export requests of the last minute

	hooks    *webhookQueue
	handler  http.Handler
	httpSrv  *http.Server
	url      string
	stopOnce sync.Once
}

// New builds a Server and starts its webhook sender; call Start to serve HTTP (or
// mount Handler yourself) and Close to stop.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:         cfg,
		ids:         newIDs(),
		users:       map[int64]*User{},
		orgs:        map[int64]string{},
		tickets:     map[int64]*ticket{},
		uploads:     map[string]*upload{},
		attachments: map[int64]*Attachment{},
		tokens:      map[string]time.Time{},
	}
	s.hooks = newWebhookQueue(cfg)
	s.handler = s.middleware(s.routes())
	return s, nil
}

// TB is the part of testing.TB that NewTest uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// NewTest starts a Server on a loopback port and closes it when the test ends.
func NewTest(t TB, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("zendesksim: %v", err)
	}
	if _, err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("zendesksim: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Handler serves the simulated API.
func (s *Server) Handler() http.Handler { return s.handler }

// Start serves HTTP on addr (":0" picks a port) and returns the base URL, e.g.
// http://127.0.0.1:43123, to use as the Zendesk URL.
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("zendesksim: listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.httpSrv = srv
	s.url = "http://" + ln.Addr().String()
	s.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Logger.WithError(err).Error("zendesksim: serve")
		}
	}()
	return s.URL(), nil
}

// URL is the base URL given by Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Close stops the HTTP server and the webhook sender; pending webhooks are dropped.
func (s *Server) Close() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		srv := s.httpSrv
		s.mu.Unlock()
		if srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		}
		s.hooks.close()
	})
}

// newEventIDLocked numbers audits, their events, comments and attachments.
func (s *Server) newEventIDLocked() int64 { return next(&s.ids.event) }

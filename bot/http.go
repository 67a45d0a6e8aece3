package bot

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"
)

// newEcho builds the server's routes that do not belong to a capability package.
func (b *Bot) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = b.errorHandler
	e.Use(b.recoverer, b.accessLog)
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", b.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(b.metrics.Registry, promhttp.HandlerOpts{})))
	return e
}

func (b *Bot) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := b.ready(ctx); err != nil {
		b.log.WithError(err).Debug("not ready")
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": readinessReason(err)})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// errorHandler is the one place that turns errors into HTTP answers.
func (b *Bot) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code := http.StatusInternalServerError
	msg := "internal error"
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code = he.Code
		if s, ok := he.Message.(string); ok {
			msg = s
		} else {
			msg = http.StatusText(code)
		}
	} else {
		b.log.WithError(err).WithField("path", c.Path()).Error("request failed")
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(code)
		return
	}
	_ = c.JSON(code, map[string]string{"status": "error", "error": msg})
}

func (b *Bot) recoverer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				b.log.WithField("panic", r).WithField("path", c.Path()).Error("handler panicked")
				err = echo.NewHTTPError(http.StatusInternalServerError, "internal error")
			}
		}()
		return next(c)
	}
}

// accessLog logs requests other than probes and scrapes, without bodies.
func (b *Bot) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		switch c.Path() {
		case "/healthz", "/readyz", "/metrics":
			return err
		}
		if err != nil {
			c.Error(err)
		}
		b.log.WithFields(logrus.Fields{
			"method":      c.Request().Method,
			"path":        c.Request().URL.Path,
			"status":      c.Response().Status,
			"duration_ms": float64(time.Since(start).Microseconds()) / 1000,
			"remote":      c.RealIP(),
		}).Debug("http request")
		return nil
	}
}

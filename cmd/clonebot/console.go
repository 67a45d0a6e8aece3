package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/mattn/go-isatty"
	"github.com/sirupsen/logrus"
)

// console is stderr as an operator's command shares it: a status line redrawn in
// place on a terminal (the clone's progress), and whole lines (finished phases,
// warnings) that never get mixed up with it.
type console struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	status   string // the status line on screen, empty when none
}

func newConsole(w io.Writer) *console {
	c := &console{w: w}
	if f, ok := w.(*os.File); ok {
		c.terminal = isatty.IsTerminal(f.Fd())
	}
	return c
}

// setStatus redraws the status line; off a terminal it is not shown, so that logs
// and pipes get whole lines only.
func (c *console) setStatus(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.terminal {
		return
	}
	fmt.Fprint(c.w, "\r\033[K"+s)
	c.status = s
}

// println writes a whole line, clearing the status line first.
func (c *console) println(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clear()
	fmt.Fprintln(c.w, s)
}

// Write writes log lines above the status line, then redraws it.
func (c *console) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	status := c.status
	c.clear()
	n, err := c.w.Write(b)
	if status != "" && err == nil {
		fmt.Fprint(c.w, status)
		c.status = status
	}
	return n, err
}

func (c *console) clear() {
	if c.status != "" {
		fmt.Fprint(c.w, "\r\033[K")
		c.status = ""
	}
}

// newConsoleLogger logs warnings and errors as plain lines on the console
// ("clonebot: warning: ..."), never as JSON. Operators' commands report their
// outcome themselves, so little is logged there.
func newConsoleLogger(c *console) *logrus.Entry {
	l := logrus.New()
	l.SetOutput(c)
	l.SetFormatter(plainFormatter{})
	l.SetLevel(logrus.ErrorLevel)
	return logrus.NewEntry(l)
}

// plainFormatter writes "clonebot: LEVEL: message (key=value, ...)".
type plainFormatter struct{}

func (plainFormatter) Format(e *logrus.Entry) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "clonebot: %s: %s", e.Level, e.Message)
	keys := make([]string, 0, len(e.Data))
	for k := range e.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fields := make([]string, len(keys))
	for i, k := range keys {
		fields[i] = fmt.Sprintf("%s=%v", k, e.Data[k])
	}
	if len(fields) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(fields, ", "))
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/gaiia/clonebot/config"
)

// newFlagSet returns a flag set that prints nothing itself: run prints the usage on
// stdout when asked for it, and main reports a usage error once.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// newFlags returns a flag set carrying --config.
func newFlags(name string) (*flag.FlagSet, *string) {
	fs := newFlagSet(name)
	path := fs.String("config", "", "configuration file (default $CLONEBOT_CONFIG, else ./clonebot.yaml)")
	return fs, path
}

// helpRequest says that --help or -h was given: run prints the command's usage on
// stdout and exits 0, having done nothing else.
type helpRequest struct{ fs *flag.FlagSet }

func (h *helpRequest) Error() string { return "help requested" }

func (h *helpRequest) write(w io.Writer, c command) {
	fmt.Fprintf(w, "Usage: clonebot %s %s\n\n%s.\n", c.name, c.synopsis, capitalise(c.summary))
	if hasFlags(h.fs) {
		fmt.Fprint(w, "\nFlags:\n")
		h.fs.SetOutput(w)
		h.fs.PrintDefaults()
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// parseFlags parses args; a usage error exits 2, naming the command's help.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return &helpRequest{fs: fs}
	case err != nil:
		return usageError(fs.Name(), err.Error())
	case fs.NArg() > 0:
		return usageError(fs.Name(), fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	return nil
}

func usageError(cmd, msg string) error {
	return &exitError{code: 2, err: fmt.Errorf("%s: %s (see 'clonebot %s --help')", cmd, msg, cmd)}
}

// configPath is the configuration file to read and where its name came from.
func configPath(flagValue string, getenv func(string) string) (path, source string) {
	switch {
	case flagValue != "":
		return flagValue, "--config"
	case getenv("CLONEBOT_CONFIG") != "":
		return getenv("CLONEBOT_CONFIG"), "$CLONEBOT_CONFIG"
	default:
		return "clonebot.yaml", "the default"
	}
}

// loadConfig reads the whole configuration, as serve needs it.
func loadConfig(flagValue string, getenv func(string) string) (*config.Config, error) {
	return loadWith(config.Load, flagValue, getenv)
}

// loadInstances reads only what commands on instances need: tenants, their
// instances and the manifest. Zendesk and the bot database may be left unset.
func loadInstances(flagValue string, getenv func(string) string) (*config.Config, error) {
	return loadWith(config.LoadInstances, flagValue, getenv)
}

func loadWith(load func(string, func(string) string) (*config.Config, error), flagValue string, getenv func(string) string) (*config.Config, error) {
	path, source := configPath(flagValue, getenv)
	cfg, err := load(path, getenv)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &exitError{code: 2, err: fmt.Errorf("configuration file %s (%s) does not exist: name one with --config FILE or $CLONEBOT_CONFIG", path, source)}
	}
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	return cfg, nil
}

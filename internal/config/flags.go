// Package config holds the plumbing every service uses to read its
// configuration: flags with VC_… environment defaults, the default ports of
// every listener in one place, and the connection settings of the four
// servers the services depend on.
package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// Flags registers flags whose defaults may be overridden from the
// environment. Precedence: command line, then environment, then the built-in
// default. A malformed environment value is an error from Err, not a silent
// fallback to the default.
type Flags struct {
	fs     *flag.FlagSet
	lookup func(string) (string, bool)
	errs   []error
}

// NewFlags wraps fs and reads the process environment.
func NewFlags(fs *flag.FlagSet) *Flags { return NewFlagsEnv(fs, os.LookupEnv) }

// NewFlagsEnv wraps fs and reads the environment through lookup (tests pass
// a map).
func NewFlagsEnv(fs *flag.FlagSet, lookup func(string) (string, bool)) *Flags {
	return &Flags{fs: fs, lookup: lookup}
}

// FlagSet returns the wrapped flag set.
func (f *Flags) FlagSet() *flag.FlagSet { return f.fs }

func (f *Flags) fromEnv(name, env string) {
	v, ok := f.lookup(env)
	if !ok {
		return
	}
	if err := f.fs.Set(name, v); err != nil {
		f.errs = append(f.errs, fmt.Errorf("environment %s=%q: %w", env, v, err))
	}
}

func usage(u, env string) string { return fmt.Sprintf("%s (env %s)", u, env) }

// String registers a string flag.
func (f *Flags) String(p *string, name, env, def, u string) {
	f.fs.StringVar(p, name, def, usage(u, env))
	f.fromEnv(name, env)
}

// Int registers an int flag.
func (f *Flags) Int(p *int, name, env string, def int, u string) {
	f.fs.IntVar(p, name, def, usage(u, env))
	f.fromEnv(name, env)
}

// Int64 registers an int64 flag.
func (f *Flags) Int64(p *int64, name, env string, def int64, u string) {
	f.fs.Int64Var(p, name, def, usage(u, env))
	f.fromEnv(name, env)
}

// Bool registers a bool flag.
func (f *Flags) Bool(p *bool, name, env string, def bool, u string) {
	f.fs.BoolVar(p, name, def, usage(u, env))
	f.fromEnv(name, env)
}

// Duration registers a duration flag ("250ms", "5s").
func (f *Flags) Duration(p *time.Duration, name, env string, def time.Duration, u string) {
	f.fs.DurationVar(p, name, def, usage(u, env))
	f.fromEnv(name, env)
}

// List registers a comma-separated list flag ("a:1,b:2").
func (f *Flags) List(p *[]string, name, env string, def []string, u string) {
	*p = append([]string(nil), def...)
	f.fs.Func(name, usage(u+" (comma-separated)", env)+" (default "+strings.Join(def, ",")+")", func(s string) error {
		*p = SplitList(s)
		return nil
	})
	f.fromEnv(name, env)
}

// Err reports every malformed environment value.
func (f *Flags) Err() error { return errors.Join(f.errs...) }

// Parse parses args and then reports environment errors.
func (f *Flags) Parse(args []string) error {
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	return f.Err()
}

// SplitList splits a comma-separated list, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

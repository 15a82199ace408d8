package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/config"
)

// DefaultTokenTTL is how long a token from `writesvc token` is valid.
const DefaultTokenTTL = time.Hour

// TokenConfig is the configuration of `writesvc token`.
type TokenConfig struct {
	JWTSecret string
	Sub       int64
	Role      string
	TTL       time.Duration
}

// RegisterFlags registers the flags of `writesvc token`.
func (c *TokenConfig) RegisterFlags(f *config.Flags) {
	registerSecret(f, &c.JWTSecret)
	f.Int64(&c.Sub, "sub", "VC_TOKEN_SUB", 0, "user id the token speaks for (required)")
	f.String(&c.Role, "role", "VC_TOKEN_ROLE", string(auth.RoleUser), "user or moderator")
	f.Duration(&c.TTL, "ttl", "VC_TOKEN_TTL", DefaultTokenTTL, "how long the token is valid")
}

// tokenMain runs `writesvc token …` and returns the exit code.
func tokenMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("writesvc token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg TokenConfig
	f := config.NewFlags(fs)
	cfg.RegisterFlags(f)
	if err := f.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintf(stderr, "writesvc token: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "writesvc token: unexpected arguments %q\n", fs.Args())
		return 2
	}
	role, err := auth.ParseRole(cfg.Role)
	if err != nil {
		fmt.Fprintf(stderr, "writesvc token: %v\n", err)
		return 2
	}
	tok, err := auth.Issue(cfg.JWTSecret, auth.Principal{UserID: cfg.Sub, Role: role}, time.Now(), cfg.TTL)
	if err != nil {
		fmt.Fprintf(stderr, "writesvc token: %v\n", err)
		return 2
	}
	fmt.Fprintln(stdout, tok)
	return 0
}

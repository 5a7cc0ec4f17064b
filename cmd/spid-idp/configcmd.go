package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/spid-idp/spid-idp/config"
)

func init() {
	register("config validate", "check a configuration file and report every problem (exit 2 if invalid)", runConfigValidate)
	register("config reference", "print every configuration option as a Markdown table", func(_ context.Context, e env, _ []string) int {
		fmt.Fprint(e.stdout, config.Reference())
		return exitOK
	})
	register("config example", "print a commented example configuration", func(_ context.Context, e env, _ []string) int {
		e.stdout.Write(config.Example)
		return exitOK
	})
}

// configFlag adds -c/-config to fs; the SPID_IDP_CONFIG variable is the default.
func configFlag(fs *flag.FlagSet, e env) *string {
	def := lookupEnv(e.environ, "SPID_IDP_CONFIG")
	p := fs.String("c", def, "configuration file (default $SPID_IDP_CONFIG; none: demo mode)")
	fs.StringVar(p, "config", def, "same as -c")
	return p
}

func lookupEnv(environ []string, name string) string {
	for _, kv := range environ {
		if len(kv) > len(name) && kv[:len(name)] == name && kv[len(name)] == '=' {
			return kv[len(name)+1:]
		}
	}
	return ""
}

func newFlagSet(name string, e env) *flag.FlagSet {
	fs := flag.NewFlagSet("spid-idp "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// loadConfig loads the configuration and prints every problem; ok is false
// when the caller must exit with the returned status.
func loadConfig(path string, e env) (*config.Config, int, bool) {
	cfg, err := config.Load(path, withoutConfigVar(e.environ))
	if err == nil {
		return cfg, exitOK, true
	}
	var ps *config.Problems
	if errors.As(err, &ps) {
		name := path
		if name == "" {
			name = "demo configuration"
		}
		fmt.Fprintf(e.stderr, "%s: %d problem(s):\n", name, len(ps.List))
		for _, p := range ps.List {
			fmt.Fprintf(e.stderr, "  %s\n", p.String())
		}
		return nil, exitUsage, false
	}
	fmt.Fprintf(e.stderr, "spid-idp: %v\n", err)
	return nil, exitUsage, false
}

// withoutConfigVar hides SPID_IDP_CONFIG from config.Load, which would
// otherwise report it as an unknown option.
func withoutConfigVar(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		if len(kv) >= len("SPID_IDP_CONFIG=") && kv[:len("SPID_IDP_CONFIG=")] == "SPID_IDP_CONFIG=" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func runConfigValidate(_ context.Context, e env, args []string) int {
	fs := newFlagSet("config validate", e)
	path := configFlag(fs, e)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *path == "" {
		fmt.Fprintln(e.stderr, "spid-idp config validate: -c FILE is required")
		return exitUsage
	}
	cfg, code, ok := loadConfig(*path, e)
	if !ok {
		return code
	}
	fmt.Fprintf(e.stdout, "%s: valid (entityID %s, storage %s, cache %s)\n", *path, cfg.IdP.EntityID, cfg.Storage.Driver, cfg.Cache.Driver)
	return exitOK
}

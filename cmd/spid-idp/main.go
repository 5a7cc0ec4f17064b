// Command spid-idp is the SPID identity provider: one binary whose
// subcommands serve the IdP and administer it.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/spid-idp/spid-idp/conformance"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2 // bad arguments or invalid configuration
)

// env is what a command may touch of the process, so tests can run commands
// in-process.
type env struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	environ        []string
}

type command struct {
	summary string
	run     func(ctx context.Context, e env, args []string) int
}

// commands maps "name" or "name sub" to the command.
var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, e env, args []string) int) {
	commands[name] = command{summary: summary, run: run}
}

func init() {
	register("version", "print the version", func(_ context.Context, e env, _ []string) int {
		fmt.Fprintf(e.stdout, "spid-idp %s\n", version)
		return exitOK
	})
	register("help", "list the commands", func(_ context.Context, e env, _ []string) int {
		usage(e.stdout)
		return exitOK
	})
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "spid-idp — a SPID (Sistema Pubblico di Identità Digitale) identity provider")
	fmt.Fprintln(w, "\nUsage: spid-idp <command> [flags]   (spid-idp <command> -h for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-22s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nWith no configuration file, `spid-idp serve` starts in demo mode.")
}

// dispatch finds the longest registered command name that prefixes args.
func dispatch(ctx context.Context, e env, args []string) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(e.stdout)
		return exitOK
	case "-version", "--version":
		args = []string{"version"}
	}
	if len(args) >= 2 {
		if c, ok := commands[args[0]+" "+args[1]]; ok {
			return runCommand(ctx, e, args[0]+" "+args[1], c, args[2:])
		}
	}
	if c, ok := commands[args[0]]; ok {
		return runCommand(ctx, e, args[0], c, args[1:])
	}
	var subs []string
	for n := range commands {
		if strings.HasPrefix(n, args[0]+" ") {
			subs = append(subs, strings.TrimPrefix(n, args[0]+" "))
		}
	}
	if len(subs) > 0 {
		sort.Strings(subs)
		if asksHelp(args[1:]) {
			fmt.Fprintf(e.stdout, "Usage: spid-idp %s <subcommand> [flags]   (spid-idp %s <subcommand> -h for its flags)\n\nSubcommands:\n", args[0], args[0])
			for _, sub := range subs {
				fmt.Fprintf(e.stdout, "  %-22s %s\n", sub, commands[args[0]+" "+sub].summary)
			}
			return exitOK
		}
		fmt.Fprintf(e.stderr, "spid-idp %s: needs a subcommand: %s\n", args[0], strings.Join(subs, ", "))
	} else {
		fmt.Fprintf(e.stderr, "spid-idp: unknown command %q (see spid-idp help)\n", args[0])
	}
	return exitUsage
}

// asksHelp reports whether args ask for help (-h, -help, --help) before
// any "--".
func asksHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// noFlags are the commands that take no flags: their help is the summary.
var noFlags = map[string]bool{"version": true, "help": true, "config reference": true, "config example": true}

// runCommand runs c, or prints its usage on stdout and exits 0 when args
// ask for help: the command sees only "-h", so its flag set prints the
// usage and it does nothing else.
func runCommand(ctx context.Context, e env, name string, c command, args []string) int {
	if !asksHelp(args) {
		return c.run(ctx, e, args)
	}
	fmt.Fprintf(e.stdout, "spid-idp %s: %s\n\n", name, c.summary)
	if noFlags[name] {
		fmt.Fprintf(e.stdout, "Usage: spid-idp %s\n", name)
		return exitOK
	}
	help := e
	help.stderr = e.stdout
	help.stdin = strings.NewReader("")
	c.run(ctx, help, []string{"-h"})
	return exitOK
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, env{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, environ: os.Environ()}, os.Args[1:])
	stop()
	os.Exit(code)
}

func init() {
	register("conformance", "run the SPID conformance suite against an IdP (spid-idp conformance -h)",
		func(ctx context.Context, e env, args []string) int {
			return conformance.Main(ctx, args, e.stdout, e.stderr)
		})
}

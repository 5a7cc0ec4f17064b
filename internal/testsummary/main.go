// Command testsummary reads `go test -json` on stdin and prints what plain
// `go test` prints (each package's result, the output of failed tests),
// then one line saying how many tests were skipped and which variables
// would run them. It exits 1 when anything failed. `make test` pipes
// through it.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// needVar finds the variable a skip message names ("SPID_TEST_X not set").
var needVar = regexp.MustCompile(`\b(SPID_TEST_[A-Z_]+) not set`)

func main() {
	os.Exit(run(os.Stdin, os.Stdout))
}

func run(in io.Reader, out io.Writer) int {
	buf := map[key][]string{}
	skipped := 0
	vars := map[string]int{}
	failed := false
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if err := json.Unmarshal(line, &ev); err != nil {
			fmt.Fprintln(out, string(line)) // build errors come as plain text
			continue
		}
		k := key{ev.Package, ev.Test}
		switch ev.Action {
		case "output":
			if ev.Test == "" {
				// Package lines: "ok", "FAIL", "?", coverage, build output.
				if !strings.HasPrefix(ev.Output, "=== ") && !strings.HasPrefix(ev.Output, "PASS\n") {
					fmt.Fprint(out, ev.Output)
				}
				continue
			}
			buf[k] = append(buf[k], ev.Output)
		case "build-output":
			fmt.Fprint(out, ev.Output)
		case "build-fail":
			failed = true
		case "skip":
			if ev.Test != "" {
				skipped++
				for _, l := range buf[k] {
					if m := needVar.FindStringSubmatch(l); m != nil {
						vars[m[1]]++
						break
					}
				}
			}
			delete(buf, k)
		case "fail":
			failed = true
			for _, l := range buf[k] {
				fmt.Fprint(out, l)
			}
			delete(buf, k)
			if ev.Test == "" {
				unfinished(out, buf, ev.Package)
			}
		case "pass":
			delete(buf, k)
		}
	}
	fmt.Fprintln(out, summary(skipped, vars))
	if failed {
		return 1
	}
	return 0
}

// unfinished prints the tests of a failed package that never ended: a
// timeout or a crash kills the binary while they run, and their output
// (the timeout's "running tests:" list among it) is all there is to go on.
func unfinished(out io.Writer, buf map[key][]string, pkg string) {
	var names []string
	for k := range buf {
		if k.pkg == pkg && k.test != "" {
			names = append(names, k.test)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		lines := buf[key{pkg, name}]
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		fmt.Fprintf(out, "--- UNFINISHED: %s (%s)\n", name, pkg)
		for _, l := range lines {
			fmt.Fprint(out, l)
		}
		delete(buf, key{pkg, name})
	}
}

type key struct{ pkg, test string }

func summary(skipped int, vars map[string]int) string {
	if skipped == 0 {
		return "skipped: no test."
	}
	names := make([]string, 0, len(vars))
	n := 0
	for v, c := range vars {
		names = append(names, v)
		n += c
	}
	sort.Strings(names)
	s := fmt.Sprintf("skipped: %d test(s)", skipped)
	if len(names) > 0 {
		s += fmt.Sprintf("; %d of them run with %s set", n, strings.Join(names, ", "))
	}
	if n < skipped {
		s += fmt.Sprintf("; %d skip for other reasons (go test -v -run NAME shows why)", skipped-n)
	}
	return s + "."
}

#!/bin/sh
# Runs every fuzz target of every package for FUZZTIME each, one after the
# other, and goes on after a failure so one crasher does not hide the others.
# Go writes each failing input under the package's testdata/fuzz/, where it
# stays as a regression seed that plain `go test` replays.
# Environment: GO, PKGS, FUZZTIME, FUZZFLAGS (set by the Makefile).
set -u
GO=${GO:-go}
failed=""
hiccups=""
ran=0
start=$(date +%s)
# Only packages whose tests declare a fuzz target: `go test -list` would build
# every test binary of the module just to find none in most.
for pkg in $($GO list -f '{{.ImportPath}} {{.Dir}}' ${PKGS:-./...} | while read -r ip dir; do
	grep -qs '^func Fuzz' "$dir"/*_test.go && echo "$ip"
done); do
	for f in $(cd "$($GO list -f '{{.Dir}}' "$pkg")" && grep -h '^func Fuzz' *_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do
		ran=$((ran + 1))
		echo "== $pkg $f ($FUZZTIME)"
		# The last progress line carries the totals of the run.
		log="${TMPDIR:-/tmp}/fuzz.$$.log"
		corpus="$($GO list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$f"
		before=$(ls "$corpus" 2>/dev/null | wc -l)
		if ! $GO test -run '^$' -fuzz "^$f\$" -fuzztime "$FUZZTIME" $FUZZFLAGS "$pkg" >"$log" 2>&1; then
			cat "$log"
			# Go's coordinator can fail a target with a bare "context deadline
			# exceeded" when -fuzztime ends while a worker is busy; it writes no
			# input. Count that as a harness hiccup only when no new input was
			# written and the target's corpus replays clean.
			if grep -q '^    context deadline exceeded$' "$log" &&
				[ "$(ls "$corpus" 2>/dev/null | wc -l)" -eq "$before" ] &&
				$GO test -run "^$f\$" "$pkg" >/dev/null 2>&1; then
				echo "fuzz: $f stopped on Go's end-of-time race, no failing input; its corpus replays clean"
				hiccups="$hiccups $pkg.$f"
			else
				failed="$failed $pkg.$f"
			fi
		else
			grep '^fuzz: elapsed' "${TMPDIR:-/tmp}/fuzz.$$.log" | tail -n 1
		fi
	done
done
rm -f "${TMPDIR:-/tmp}/fuzz.$$.log"
[ -z "$hiccups" ] || echo "fuzz: ended on Go's end-of-time race (no failing input):$hiccups"
echo "fuzz: $ran targets, $(( $(date +%s) - start )) s, FUZZTIME=$FUZZTIME"
if [ -n "$failed" ]; then
	echo "fuzz: failed:$failed"
	exit 1
fi

#!/usr/bin/env bash
# Compares two `mobilebert predict` JSONL outputs of a classifier on the same inputs (e.g. JIT vs NativeAOT, or two
# SIMD levels): same line count, every class probability within TOL (default 1e-4 absolute), and the same label
# wherever the top two probabilities are further apart than 2·TOL (a closer pair is a tie at float precision).
# Usage: scripts/compare-predictions.sh A.jsonl B.jsonl [TOL]
set -euo pipefail
if [ $# -lt 2 ]; then echo "usage: scripts/compare-predictions.sh A.jsonl B.jsonl [TOL]" >&2; exit 2; fi
a=$1 b=$2 tol=${3:-1e-4}
[ "$(wc -l < "$a")" -eq "$(wc -l < "$b")" ] || { echo "error: $a and $b have different line counts" >&2; exit 1; }
# One line per input: label, then the probabilities in their order.
fields() { sed -E 's/.*"label":"([^"]*)".*"probabilities":\{([^}]*)\}.*/\1 \2/; s/"[^"]*"://g; s/,/ /g' "$1"; }
paste -d '|' <(fields "$a") <(fields "$b") | awk -F'|' -v tol="$tol" -v fa="$a" -v fb="$b" '
  {
    na = split($1, x, " "); nb = split($2, y, " ")
    if (na != nb || na < 2) { printf "error: line %d: %d vs %d fields\n", NR, na, nb; bad = 1; next }
    top = 0; second = 0
    for (i = 2; i <= na; i++) {
      d = x[i] - y[i]; if (d < 0) d = -d
      if (d > tol) { printf "error: line %d: probability %d differs by %.3g (%s vs %s)\n", NR, i - 1, d, x[i], y[i]; bad = 1 }
      if (x[i] > top) { second = top; top = x[i] } else if (x[i] > second) second = x[i]
    }
    if (x[1] != y[1] && top - second > 2 * tol) { printf "error: line %d: label %s vs %s\n", NR, x[1], y[1]; bad = 1 }
  }
  END { if (bad) { print "error: predictions of " fa " and " fb " differ" > "/dev/stderr"; exit 1 }
        printf "predictions agree: %d lines (tolerance %s)\n", NR, tol }'

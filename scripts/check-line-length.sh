#!/usr/bin/env bash
# Fails, listing file:line, when a tracked .cs file has a line over the limit (150 characters, as in .editorconfig).
# Paths listed in scripts/line-length-exceptions.txt (a file, or a folder prefix ending in /) are skipped.
# Usage: scripts/check-line-length.sh [LIMIT]
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-150}
exceptions=scripts/line-length-exceptions.txt
mapfile -t skip < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$exceptions" 2>/dev/null | grep -v '^$' || true)
is_skipped() {
  local p
  for p in "${skip[@]}"; do
    if [[ "$p" == */ ]]; then [[ "$1" == "$p"* ]] && return 0; else [[ "$1" == "$p" ]] && return 0; fi
  done
  return 1
}
files=()
while IFS= read -r -d '' f; do is_skipped "$f" || files+=("$f"); done < <(git ls-files -z '*.cs')
# Characters, not bytes: a UTF-8 locale makes grep count '·' or '—' as one.
long=$( ((${#files[@]})) && LC_ALL=C.UTF-8 grep -Hn -E "^.{$((limit + 1)),}" "${files[@]}" || true)
if [ -n "$long" ]; then
  cut -d: -f1,2 <<<"$long"
  echo "error: $(wc -l <<<"$long") line(s) in .cs files exceed $limit characters" >&2
  exit 1
fi
echo "line length: ${#files[@]} .cs files, none over $limit characters (${#skip[@]} excepted paths)"

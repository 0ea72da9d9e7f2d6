#!/usr/bin/env bash
# Fails, listing file:line: target, when a relative Markdown link ([text](path) or [text](path#anchor)) in a tracked .md
# file, or a repository path of a .md file named in its text (docs/…/X.md), points at a path that does not exist.
# Web links (scheme://, mailto:) and in-page anchors (#…) are not checked.
set -euo pipefail
cd "$(dirname "$0")/.."
broken=0 checked=0
while IFS= read -r -d '' md; do
  dir=$(dirname "$md")
  # One "LINE:TARGET" per link: the text between "](" and the next ")" (targets with spaces or parentheses are not used).
  while IFS=: read -r line target; do
    target=${target%%#*}
    [ -z "$target" ] && continue
    case "$target" in *://*|mailto:*) continue ;; esac
    checked=$((checked + 1))
    if [[ "$target" == /* ]]; then path=".$target"; else path="$dir/$target"; fi
    if [ ! -e "$path" ]; then echo "$md:$line: $target"; broken=$((broken + 1)); fi
  done < <(grep -no '\](\([^)[:space:]]*\))' "$md" | sed -E 's/^([0-9]+):\]\(([^)]*)\)$/\1:\2/')
  # Repository paths of Markdown files named in the text (e.g. docs/results/LOG.md), resolved from the repository root.
  while IFS=: read -r line target; do
    checked=$((checked + 1))
    if [ ! -e "$target" ]; then echo "$md:$line: $target"; broken=$((broken + 1)); fi
  done < <(grep -noE '(^|[^A-Za-z0-9_./-])(docs|bench|src|tests|scripts|experiments|samples|data)/[A-Za-z0-9_./-]*\.md' "$md" \
    | sed -E 's/^([0-9]+):[^a-z]?/\1:/')
done < <(git ls-files -z '*.md')
if [ "$broken" -gt 0 ]; then echo "error: $broken broken relative link(s) in Markdown files" >&2; exit 1; fi
echo "links: $checked relative links and .md paths in Markdown files, all resolve"

#!/usr/bin/env bash
# Checks the server's layering and the size of source files (docs/architecture.md):
#
#   1. In server/src, arrows only go down: domain (0) <- store (1) <- services (2) <- http (3)
#      <- the top: cli/, serve.rs, startup.rs, config.rs, lib.rs, main.rs (4). A module may use
#      its own layer and lower ones, never a higher one; the domain uses no other module.
#   2. No source file in server/src or app/src has more than 500 lines of non-test code (the
#      lines before its first `#[cfg(test)]`).
#
# Prints every offence as `file:line: reason` and exits 1 if there is any. Needs bash, grep and
# awk only.
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_LINES=500
# Files another branch is rewriting right now; they are reported, not failed, until it lands.
# Remove an entry as soon as its rewrite is merged.

failures=0
fail() {
  echo "$1" >&2
  failures=$((failures + 1))
}

layer_of_file() {
  case "$1" in
    server/src/domain/*) echo 0 ;;
    server/src/store/*) echo 1 ;;
    server/src/services/*) echo 2 ;;
    server/src/http/*) echo 3 ;;
    *) echo 4 ;;
  esac
}

layer_name=(domain store services http top)

# Every `crate::<module>` a file names, as `line module`: in paths (`crate::store::X`), in
# single-line groups (`use crate::{a::b, c};`) and in multi-line groups (one module per line at
# the group's first level).
crate_modules() {
  awk '
    function emit(name) { if (name != "") print NR, name }
    function first_level(group,    parts, n, i, piece) {
      while (gsub(/\{[^{}]*\}/, "", group) > 0) {}
      n = split(group, parts, ",")
      for (i = 1; i <= n; i++) {
        piece = parts[i]
        gsub(/^[[:space:]]+/, "", piece)
        if (match(piece, /^[a-z_][a-z0-9_]*/)) emit(substr(piece, RSTART, RLENGTH))
      }
    }
    {
      line = $0
      sub(/\/\/.*/, "", line)
      if (in_group) {
        if (depth == 1 && match(line, /^[[:space:]]*[a-z_][a-z0-9_]*/)) {
          name = substr(line, RSTART, RLENGTH); gsub(/[[:space:]]/, "", name); emit(name)
        }
        opens = gsub(/\{/, "{", line); closes = gsub(/\}/, "}", line)
        depth += opens - closes
        if (depth <= 0) in_group = 0
        next
      }
      rest = line
      while (match(rest, /crate::[a-z_][a-z0-9_]*/)) {
        emit(substr(rest, RSTART + 7, RLENGTH - 7))
        rest = substr(rest, RSTART + RLENGTH)
      }
      if (match(line, /crate::\{/)) {
        group = substr(line, RSTART + 8)
        opens = gsub(/\{/, "{", group) + 1; closes = gsub(/\}/, "}", group)
        if (opens - closes <= 0) {
          sub(/\}[^}]*$/, "", group)
          first_level(group)
        } else {
          first_level(group)
          in_group = 1; depth = opens - closes
        }
      }
    }
  ' "$1"
}

layer_of_module() {
  case "$1" in
    domain) echo 0 ;;
    store) echo 1 ;;
    services) echo 2 ;;
    http) echo 3 ;;
    cli | serve | startup | config) echo 4 ;;
    *) echo "" ;;
  esac
}

while IFS= read -r file; do
  own=$(layer_of_file "$file")
  while read -r line module; do
    target=$(layer_of_module "$module")
    [[ -z "$target" ]] && continue
    if ((target > own)) || { ((own == 0)) && [[ "$module" != domain ]]; }; then
      fail "$file:$line: the ${layer_name[$own]} layer uses crate::$module (${layer_name[$target]}); arrows only go down (docs/architecture.md)"
    fi
  done < <(crate_modules "$file")
done < <(find server/src -name '*.rs' | sort)

while IFS= read -r file; do
  code_lines=$(awk '/^[[:space:]]*#\[cfg\(test\)\]/ { print NR - 1; found = 1; exit } END { if (!found) print NR }' "$file")
  if ((code_lines > MAX_LINES)); then
    fail "$file:$((MAX_LINES + 1)): $code_lines lines of non-test code, more than $MAX_LINES; split it by concern"
  fi
done < <(find server/src app/src -name '*.rs' | sort)

if ((failures > 0)); then
  echo "check-architecture: $failures problem(s)" >&2
  exit 1
fi
echo "check-architecture: layers and file sizes are fine"

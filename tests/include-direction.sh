#!/usr/bin/env bash
# tests/include-direction.sh [ROOT] — fails when a project include goes against the layers:
#   app/ -> {cdc, transform, sink, state}; sink -> {transform, state, cdc};
#   transform, state -> cdc's kernel only (cdc/model, cdc/pg, cdc/json: not the replication
#   side); cdc -> nothing of the others; nothing includes app/.
# Test code (a folder's tests/ and the top-level tests/) may also include tests/ (support), and
# test code alone may include app/ (tests of the commands). Run by ctest (include_direction).
set -euo pipefail
root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$root"

allowed() {  # allowed <layer of the including file> <included path>
  local target=${2%%/*}
  case "$1:$target" in
    transform:cdc | state:cdc)
      case "$2" in cdc/model/* | cdc/pg/* | cdc/json/*) return 0 ;; esac
      return 1
      ;;
  esac
  case "$1:$target" in
    cdc:cdc) return 0 ;;
    transform:transform) return 0 ;;
    state:state) return 0 ;;
    sink:sink | sink:transform | sink:state | sink:cdc) return 0 ;;
    app:app | app:cdc | app:transform | app:sink | app:state) return 0 ;;
  esac
  return 1
}

violations=0
checked=0
while IFS= read -r file; do
  layer=${file%%/*}
  test_code=0
  [[ $layer == tests || $file == */tests/* ]] && test_code=1
  while IFS= read -r line; do
    included=${line#*\"}
    included=${included%%\"*}
    target=${included%%/*}
    case "$target" in cdc | transform | state | sink | app | tests) ;; *) continue ;; esac
    checked=$((checked + 1))
    if [[ $test_code -eq 1 ]]; then
      [[ $target == tests || $target == app ]] && continue
      [[ $layer == tests ]] && continue  # end-to-end tests and benchmarks may use any layer
    fi
    if ! allowed "$layer" "$included"; then
      echo "include against the layers: $file includes \"$included\" ($layer -> $target)" >&2
      violations=$((violations + 1))
    fi
  done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' "$file" || true)
done < <(find cdc transform state sink app tests -type f \( -name '*.cpp' -o -name '*.h' \) | sort)

if [[ $checked -eq 0 ]]; then
  echo "include direction: no project include found under $root (wrong root?)" >&2
  exit 1
fi
if [[ $violations -gt 0 ]]; then
  echo "include direction: $violations include(s) against app -> {cdc, transform, sink, state}," \
    "sink -> {transform, state, cdc}, transform/state -> cdc/{model,pg,json}" >&2
  exit 1
fi
echo "include direction: $checked project includes follow the layers"

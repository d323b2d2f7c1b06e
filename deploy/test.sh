#!/usr/bin/env bash
# deploy/test.sh — the whole test suite from a fresh clone: installs missing Debian packages
# (deploy/install-deps.sh), configures and builds everything in ./build, and runs every test
# binary with ctest. The exit code is ctest's (or the failing step's). CI runs exactly this
# (.ci/run), as root, without a terminal.
#
# Tests start their own PostgreSQL clusters under /tmp/pgmorph-test-*; a test binary that crashes
# leaves its clusters running. They are reaped before and after ctest (deploy/reap-test-clusters.sh);
# on CI (CI=true) every pgmorph-test-* cluster is, elsewhere only those of finished test.sh runs.
#
# Environment: PGMORPH_BUILD_DIR (default ./build), PGMORPH_JOBS (default: all cores),
# CMAKE_BUILD_TYPE (default RelWithDebInfo); extra arguments are passed to ctest (e.g. -R cdc).
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
build=${PGMORPH_BUILD_DIR:-$ROOT/build}
jobs=${PGMORPH_JOBS:-$(nproc)}

"$ROOT/deploy/install-deps.sh"

cmake -S "$ROOT" -B "$build" -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build "$build" -j"$jobs"

# Every server a test starts inherits this: it tells the reaper which run owns the server.
export PGMORPH_TEST_RUN=$$
reap=("$ROOT/deploy/reap-test-clusters.sh")
if [[ ${CI:-} == true ]]; then reap+=(--all); fi

"${reap[@]}"
set +e
ctest --test-dir "$build" --output-on-failure "$@"
rc=$?
set -e
"${reap[@]}" --owner $$
exit $rc

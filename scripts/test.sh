#!/usr/bin/env bash
# The whole test suite, from a fresh clone: a Node.js >= 22 (fetched when the installed one is older), the
# dependencies, the real services the tests need (started, or installed from Debian's archive when missing),
# then type check, lint and every test. Idempotent, and quick when everything is already in place.
# Extra arguments go to vitest (e.g. scripts/test.sh src/store).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$CC_ROOT/scripts/services.sh"

ensure_node
ensure_deps
ensure_postgres
ensure_chromium
ensure_docker
ensure_registry

cd "$CC_ROOT"
# The image the container tests run (fake Claude Code inside); seconds when nothing changed.
say "test image";  node bin/cloudclaude.js images build --offline --test
say "type check";  npx tsc -p tsconfig.json
say "lint";        npx biome check .
say "tests";       npx vitest run "$@"

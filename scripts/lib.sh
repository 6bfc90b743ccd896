# Shared helpers for the scripts in this folder. Source it; do not run it.
#
# ensure_node: puts a Node.js >= 22 first on PATH. The installed one is used when it is new enough;
# otherwise Node.js 24 LTS is fetched from the npm registry (package node-linux-<arch>@24) into
# .tools/node, once. Native modules (better-sqlite3) then build against that version's own headers.
# ensure_deps: runs `npm ci` when package-lock.json or the Node.js version changed since the last install.

CC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CC_MIN_NODE_MAJOR=22
CC_NODE_LINE=24

say() { printf '\033[1m[cloudclaude]\033[0m %s\n' "$*" >&2; }

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  local sys_node
  sys_node="$(command -v node || true)"
  if [ -n "$sys_node" ] && [ "$(node_major "$sys_node")" -ge "$CC_MIN_NODE_MAJOR" ]; then
    return 0
  fi
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) say "unsupported CPU $(uname -m): install Node.js >= $CC_MIN_NODE_MAJOR yourself"; exit 1 ;;
  esac
  local dir="$CC_ROOT/.tools/node"
  local pkg="$dir/node_modules/node-linux-$arch"
  if [ ! -x "$pkg/bin/node" ]; then
    if ! command -v npm >/dev/null; then say "npm is needed to fetch Node.js $CC_NODE_LINE"; exit 1; fi
    say "Node.js ${sys_node:+$("$sys_node" --version) }is older than $CC_MIN_NODE_MAJOR; fetching Node.js $CC_NODE_LINE from the npm registry into .tools/node (once)"
    mkdir -p "$dir"
    npm install --silent --no-save --no-package-lock --prefix "$dir" "node-linux-$arch@$CC_NODE_LINE" >&2
  fi
  export PATH="$pkg/bin:$PATH"
  # node-gyp must build native addons against this Node.js, not the system one (~/.npmrc may say nodedir=/usr).
  export npm_config_nodedir="$pkg"
}

ensure_deps() {
  cd "$CC_ROOT" || exit 1
  local stamp="node_modules/.cloudclaude-install"
  local want
  want="$(node --version) $(sha256sum package-lock.json | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  say "installing dependencies (npm ci) for Node.js $(node --version)"
  npm ci --no-audit --no-fund >&2
  printf '%s' "$want" >"$stamp"
}

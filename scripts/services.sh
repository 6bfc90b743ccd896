# Starts (installing from Debian's archive when missing) the real services the tests use. Source it.
# Each function is a no-op when the service already answers.

apt_install() {
  if ! command -v apt-get >/dev/null; then say "cannot install $* (no apt-get): install it yourself"; exit 1; fi
  say "installing $* from Debian's archive"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2 ||
    { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2; }
}

# PostgreSQL at 127.0.0.1:5432 accepting user postgres without a password (CLOUDCLAUDE_TEST_POSTGRES_URL
# points the tests elsewhere, in which case nothing is started here).
ensure_postgres() {
  if [ -n "${CLOUDCLAUDE_TEST_POSTGRES_URL:-}" ]; then return 0; fi
  if pg_ready; then return 0; fi
  local fresh=0
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql
    fresh=1
  fi
  local version
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  if [ "$fresh" = 1 ]; then
    # A cluster we just created for the tests: let local TCP connections in as postgres without a password.
    sed -i '1i host all postgres 127.0.0.1/32 trust' "/etc/postgresql/$version/main/pg_hba.conf"
  fi
  say "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
  for _ in $(seq 1 50); do pg_ready && return 0; sleep 0.2; done
  say "PostgreSQL did not come up on 127.0.0.1:5432"; exit 1
}

pg_ready() {
  if command -v pg_isready >/dev/null; then
    pg_isready -q -h 127.0.0.1 -p 5432 -U postgres
  else
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
  fi
}

# Debian's Chromium for the browser tests (driven by playwright-core; never a browser download).
ensure_chromium() {
  if command -v chromium >/dev/null; then return 0; fi
  apt_install chromium
}

# Debian's Docker engine (docker.io: dockerd, containerd, runc) answering on /var/run/docker.sock. Without
# systemd (containers, CI) dockerd is started here in the background, logging to
# /var/log/cloudclaude-dockerd.log. Nothing is pulled: the tests build their images offline.
ensure_docker() {
  if ! command -v dockerd >/dev/null && [ ! -x /usr/sbin/dockerd ]; then apt_install docker.io; fi
  if docker_ready; then return 0; fi
  local log=/var/log/cloudclaude-dockerd.log
  # A dockerd or containerd that died leaves its pid file, and dockerd refuses to start over one whose
  # process still shows (an init that does not reap leaves zombies): drop those of gone processes.
  local pidfile pid
  for pidfile in /var/run/docker.pid /var/run/docker/containerd/containerd.pid; do
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    if [ -n "$pid" ] && ! process_alive "$pid"; then rm -f "$pidfile"; fi
  done
  say "starting dockerd (log: $log)"
  PATH="/usr/sbin:/sbin:$PATH" nohup setsid dockerd >>"$log" 2>&1 </dev/null &
  for _ in $(seq 1 150); do docker_ready && return 0; sleep 0.2; done
  say "dockerd did not answer on /var/run/docker.sock within 30 s; the end of $log:"
  tail -n 25 "$log" >&2
  say "fix the cause above (or start the engine yourself) and run again"
  exit 1
}

docker_ready() {
  if command -v docker >/dev/null; then
    DOCKER_HOST=unix:///var/run/docker.sock timeout 5 docker version >/dev/null 2>&1
  else
    node -e 'require("node:http").get({ socketPath: "/var/run/docker.sock", path: "/_ping", timeout: 3000 },
      (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on("error", () => process.exit(1))'
  fi
}

# Whether a pid is a live process (a zombie is not).
process_alive() {
  [ -e "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat"
}

# Debian's registry server (the CNCF distribution `docker-registry`), which the Build Service tests push to
# on 127.0.0.1:5000 (test/support/registry.ts starts it); and git's http-backend for the local git server.
ensure_registry() {
  if [ -x /usr/bin/docker-registry ]; then return 0; fi
  apt_install docker-registry
}

# Shared shell helpers for scripts/bootstrap, scripts/test, scripts/up and
# images/build.sh.  Source it; it defines functions and a few variables only.
#
#   K8PY_ROOT         the repository root
#   K8PY_VENV         the project's virtualenv (default: $K8PY_ROOT/.venv)
#   K8PY_DOCKERD_LOG  where a dockerd started by us logs (default: /var/log/k8py-dockerd.log)

K8PY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
K8PY_VENV="${K8PY_VENV:-$K8PY_ROOT/.venv}"
K8PY_DOCKERD_LOG="${K8PY_DOCKERD_LOG:-/var/log/k8py-dockerd.log}"
export DOCKER_BUILDKIT=0          # the legacy builder is the one that works here
export DEBIAN_FRONTEND=noninteractive

log() { printf '\033[1m[k8py]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[k8py] error:\033[0m %s\n' "$*" >&2; exit 1; }

# Run a command as root (we usually are root; fall back to sudo otherwise).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# sha256 of stdin, hex only.
sha256_stdin() { sha256sum | cut -c1-64; }

# Install the Debian packages that are missing (dpkg -s check), non-interactively.
_K8PY_APT_UPDATED=0
ensure_apt_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    log "installing Debian packages: ${missing[*]}"
    if [ "$_K8PY_APT_UPDATED" -eq 0 ]; then
        as_root apt-get update -qq || die "apt-get update failed"
        _K8PY_APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
}

# True when a unix socket accepts connections.
_socket_alive() {
    [ -S "$1" ] || return 1
    python3 - "$1" <<'EOF' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(1)
s.connect(sys.argv[1])
EOF
}

# True when the pid in file $1 names a live process whose command is $2.
_pidfile_alive() {
    local pid
    [ -f "$1" ] || return 1
    pid="$(tr -dc 0-9 <"$1")"
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$2" ] || return 1
    # a killed process that nobody reaped yet is a zombie: dead all the same
    ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null
}

# Mount cgroup v1 hierarchies when nothing is mounted (bare VMs without an init
# that does it); a no-op on machines that already have cgroups.
_ensure_cgroups() {
    mountpoint -q /sys/fs/cgroup 2>/dev/null && return 0
    [ -d /sys/fs/cgroup ] || return 0
    log "mounting cgroup hierarchies"
    as_root mount -t tmpfs -o uid=0,gid=0,mode=0755 cgroup /sys/fs/cgroup || return 0
    local sys
    for sys in $(awk '!/^#/ { if ($4 == 1) print $1 }' /proc/cgroups); do
        as_root mkdir -p "/sys/fs/cgroup/$sys"
        as_root mount -n -t cgroup -o "$sys" cgroup "/sys/fs/cgroup/$sys" 2>/dev/null \
            || as_root rmdir "/sys/fs/cgroup/$sys"
    done
}

# Remove what a killed dockerd/containerd leaves behind, so a new one starts.
_clean_docker_leftovers() {
    local f
    if [ -e /var/run/docker.pid ] && ! _pidfile_alive /var/run/docker.pid dockerd; then
        as_root rm -f /var/run/docker.pid
    fi
    if [ -e /var/run/docker.sock ] && ! _socket_alive /var/run/docker.sock; then
        as_root rm -f /var/run/docker.sock
    fi
    # containerd that dockerd supervises
    f=/var/run/docker/containerd/containerd.pid
    if [ -e "$f" ] && ! _pidfile_alive "$f" containerd; then
        as_root rm -f "$f"
    fi
    for f in /var/run/docker/containerd/containerd.sock /var/run/docker/containerd/containerd-debug.sock; do
        if [ -e "$f" ] && ! _socket_alive /var/run/docker/containerd/containerd.sock; then
            as_root rm -f "$f"
        fi
    done
    # a system containerd socket that nobody serves makes dockerd hang on it
    for f in /run/containerd/containerd.sock /run/containerd/containerd.sock.ttrpc; do
        if [ -e "$f" ] && ! _socket_alive /run/containerd/containerd.sock; then
            as_root rm -f "$f"
        fi
    done
}

# Make sure a Docker engine answers; start dockerd in the background if not.
ensure_dockerd() {
    local timeout="${K8PY_DOCKERD_TIMEOUT:-60}" pid
    docker info >/dev/null 2>&1 && return 0
    # a dockerd that is still starting up: give it the same time to answer
    if _pidfile_alive /var/run/docker.pid dockerd; then
        log "dockerd (pid $(cat /var/run/docker.pid)) is running but not answering yet; waiting"
    else
        _ensure_cgroups
        _clean_docker_leftovers
        as_root mkdir -p "$(dirname "$K8PY_DOCKERD_LOG")"
        log "starting dockerd (log: $K8PY_DOCKERD_LOG)"
        # fd 9 is with_lock's lock: the daemon must not hold it
        as_root setsid nohup dockerd >>"$K8PY_DOCKERD_LOG" 2>&1 </dev/null 9>&- &
        pid=$!
        disown "$pid" 2>/dev/null || true
    fi
    local deadline=$((SECONDS + timeout))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if _socket_alive /var/run/docker.sock && docker info >/dev/null 2>&1; then
            log "docker engine is up"
            return 0
        fi
        sleep 0.5
    done
    tail -n 30 "$K8PY_DOCKERD_LOG" >&2 2>/dev/null || true
    die "the Docker engine did not answer within ${timeout}s (see $K8PY_DOCKERD_LOG)"
}

# `docker compose` on top of Debian's docker-compose v1 (Compose v2 is not
# installable here): a CLI plugin that forwards to docker-compose.
ensure_compose_shim() {
    local dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
    local shim="$dir/docker-compose" want
    want="$(cat <<'EOF'
#!/bin/sh
# Installed by k8py scripts/bootstrap: `docker compose` -> docker-compose v1.
if [ "$1" = docker-cli-plugin-metadata ]; then
    v="$(docker-compose version --short 2>/dev/null || echo 1)"
    printf '{"SchemaVersion":"0.1.0","Vendor":"k8py (Debian docker-compose)","Version":"%s","ShortDescription":"Docker Compose (v1 via k8py shim)"}\n' "$v"
    exit 0
fi
[ "$1" = compose ] && shift
exec docker-compose "$@"
EOF
)"
    if [ ! -x "$shim" ] || [ "$(cat "$shim")" != "$want" ]; then
        mkdir -p "$dir"
        printf '%s\n' "$want" >"$shim.tmp" && chmod 0755 "$shim.tmp" && mv -f "$shim.tmp" "$shim"
        log "installed the docker compose shim at $shim"
    fi
}

# Hash of what decides the venv's content.
_venv_stamp() {
    { cat "$K8PY_ROOT/pyproject.toml"; python3 -c 'import sys; print(sys.version)'; echo "$K8PY_VENV"; } | sha256_stdin
}

# pip in the venv, quiet, without the noise of this machine's pip config.
_venv_pip() {
    (cd "$K8PY_ROOT" && PYTHONWARNINGS=ignore "$K8PY_VENV/bin/python" -m pip "$@" -q \
        --disable-pip-version-check 2>&1 \
        | { grep -v -e "^WARNING: Location 'file:" || true; }; exit "${PIPESTATUS[0]}")
}

# Create the project's virtualenv and (re)install the project when pyproject.toml changed.
ensure_venv() {
    local stamp want
    want="$(_venv_stamp)"
    stamp="$K8PY_VENV/.k8py-stamp"
    if [ -x "$K8PY_VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "python3 >= 3.11 is needed (found $(python3 --version 2>&1))"
    if ! "$K8PY_VENV/bin/python" -c 'import pip' >/dev/null 2>&1; then
        python3 -c 'import venv, ensurepip' 2>/dev/null || ensure_apt_packages python3-venv
        log "creating the virtualenv $K8PY_VENV"
        python3 -m venv "$K8PY_VENV" || die "python3 -m venv $K8PY_VENV failed"
    fi
    log "installing the project into $K8PY_VENV (pip install -e '.[test]')"
    _venv_pip install --upgrade pip || die "pip upgrade failed"
    _venv_pip install -e "$K8PY_ROOT[test]" || die "pip install -e '.[test]' failed"
    printf '%s\n' "$want" >"$stamp"
}

# Use the lock so two bootstraps (two terminals, CI and a developer) never race.
with_lock() {
    local name="$1"; shift
    local lockfile="${TMPDIR:-/tmp}/k8py-$name.lock"
    (
        if ! flock -n 9; then
            log "waiting for another k8py $name run to finish (lock $lockfile)"
            flock -w 900 9 || die "could not take $lockfile within 900s"
        fi
        "$@"
    ) 9>"$lockfile"
}

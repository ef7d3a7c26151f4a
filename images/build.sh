#!/usr/bin/env bash
# Build k8py's container images offline: no registry is reachable, so base
# layers come from Debian packages (mmdebstrap | docker import) and Python
# packages from wheels built on the host.
#
#   images/build.sh all|base|k8py|pause|toolbox|hello ...
#
#   base     debian:bookworm-slim            (only when missing)
#   k8py     k8py/k8py:dev                   every component, plus etcd
#   pause    k8py/pause:3.10                 the pod sandbox (static C, FROM scratch)
#   toolbox  k8py/toolbox:dev                sh, curl, dig, ip, iptables, nc, python3
#   hello    k8py/hello:1.0, k8py/hello:2.0  examples/hello
#
# Every image carries the label k8py.input-hash, a hash of what it is built
# from; an image whose label matches is left alone, so a second run takes a
# second or two.  K8PY_REBUILD=1 rebuilds regardless.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

IMAGES="$K8PY_ROOT/images"
WHEEL_CACHE="${K8PY_WHEEL_CACHE:-$K8PY_ROOT/.cache/wheels}"
HASH_LABEL=k8py.input-hash
# Bump when the way root filesystems are made changes (forces rebuilds).
ROOTFS_RECIPE="mmdebstrap minbase merged-usr no-recommends no-docs v1"
SUITE=bookworm
BUILT=0   # set when anything was built
K8PY_TMP="$(mktemp -d)"
trap 'rm -rf "$K8PY_TMP"' EXIT

label_of() {  # label_of IMAGE -> the image's input hash, or nothing
    docker image inspect -f "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true
}

image_id() { docker image inspect -f '{{.Id}}' "$1"; }

up_to_date() {  # up_to_date IMAGE HASH
    [ "${K8PY_REBUILD:-0}" != 1 ] && [ "$(label_of "$1")" = "$2" ]
}

# Hash of files (names relative to the repo root and contents).
hash_files() {
    (cd "$K8PY_ROOT" && for f in "$@"; do printf '%s\0' "$f"; cat "$f"; done) | sha256_stdin
}

# The apt sources of this host, as one-line `deb` entries for $SUITE,
# $SUITE-updates and $SUITE-security (other repositories are left out).
apt_mirrors() {
    python3 - "$SUITE" <<'EOF'
import glob, sys
suite = sys.argv[1]
wanted = {suite, suite + "-updates", suite + "-security"}
lines = []
def add(uri, suites, comps):
    if "main" not in comps:
        return
    for s in suites:
        if s in wanted:
            line = f"deb {uri} {s} main"
            if line not in lines:
                lines.append(line)
files = sorted(glob.glob("/etc/apt/sources.list")) + sorted(glob.glob("/etc/apt/sources.list.d/*.list"))
for path in files:
    for raw in open(path, encoding="utf-8", errors="replace"):
        words = raw.split("#", 1)[0].split()
        if len(words) >= 4 and words[0] == "deb":
            if words[1].startswith("["):  # options: deb [arch=amd64 ...] uri suite comps
                while words and not words[0].endswith("]"):
                    words.pop(0)
                words = ["deb"] + words[1:]
            add(words[1], [words[2]], words[3:])
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in open(path, encoding="utf-8", errors="replace").read().split("\n\n"):
        fields = {}
        for raw in stanza.splitlines():
            if raw.startswith("#") or ":" not in raw or raw[:1].isspace():
                continue
            key, value = raw.split(":", 1)
            fields[key.strip().lower()] = value.split()
        if "deb" not in fields.get("types", []) or fields.get("enabled", ["yes"])[0] == "no":
            continue
        for uri in fields.get("uris", []):
            add(uri, fields.get("suites", []), fields.get("components", []))
if not any(l.split()[2] == suite for l in lines):
    lines.insert(0, f"deb http://deb.debian.org/debian {suite} main")
print("\n".join(lines))
EOF
}

# read_packages FILE -> the package names in it, comma-separated
read_packages() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$1" | tr -s ' \n' ',' | sed 's/,$//'; }

# mmdebstrap_import TAG PACKAGES HASH [docker import --change ...]
# A Debian root filesystem with PACKAGES (comma-separated, may be empty),
# imported as TAG and labelled with HASH.
mmdebstrap_import() {
    local tag="$1" packages="$2" hash="$3"; shift 3
    local changes=(--change "LABEL $HASH_LABEL=$hash") c mirrors=() line
    for c in "$@"; do changes+=(--change "$c"); done
    while IFS= read -r line; do mirrors+=("$line"); done < <(apt_mirrors)
    local errlog; errlog="$(mktemp)"
    BUILT=1
    log "building $tag with mmdebstrap${packages:+ (+ $packages)}"
    if ! mmdebstrap --variant=minbase --quiet \
            --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
            --aptopt='Apt::Install-Recommends "false"' \
            --dpkgopt='path-exclude=/usr/share/man/*' \
            --dpkgopt='path-exclude=/usr/share/info/*' \
            --dpkgopt='path-exclude=/usr/share/doc/*' \
            --dpkgopt='path-include=/usr/share/doc/*/copyright' \
            --dpkgopt='path-exclude=/usr/share/locale/*' \
            ${packages:+--include="$packages"} \
            "$SUITE" - "${mirrors[@]}" 2>"$errlog" \
        | docker import "${changes[@]}" - "$tag" >/dev/null; then
        cat "$errlog" >&2; rm -f "$errlog"
        die "building $tag failed"
    fi
    rm -f "$errlog"
}

# rootfs NAME PACKAGES-FILE: builds k8py/NAME-rootfs:bookworm when needed
rootfs() {
    local tag="k8py/$1-rootfs:$SUITE" pkgs hash
    pkgs="$(read_packages "$2")"
    hash="$(printf '%s\n%s\n' "$ROOTFS_RECIPE" "$pkgs" | sha256_stdin)"
    up_to_date "$tag" "$hash" || mmdebstrap_import "$tag" "$pkgs" "$hash"
}

# docker_build TAG HASH CONTEXT [docker build args...]
docker_build() {
    local tag="$1" hash="$2" ctx="$3"; shift 3
    local out; out="$(mktemp)"
    BUILT=1
    log "building $tag"
    if ! DOCKER_BUILDKIT=0 docker build --force-rm --label "$HASH_LABEL=$hash" -t "$tag" "$@" "$ctx" >"$out" 2>&1; then
        cat "$out" >&2; rm -f "$out"
        die "docker build of $tag failed"
    fi
    rm -f "$out"
}

build_base() {
    local tag="debian:$SUITE-slim"
    if docker image inspect "$tag" >/dev/null 2>&1 && [ "${K8PY_REBUILD:-0}" != 1 ]; then
        return 0
    fi
    mmdebstrap_import "$tag" "" "$(printf '%s\n' "$ROOTFS_RECIPE" | sha256_stdin)" 'CMD ["bash"]'
}

# The project's own source files: pyproject.toml and every top-level package.
project_files() {
    (cd "$K8PY_ROOT" && {
        echo pyproject.toml
        for d in */; do
            d="${d%/}"
            [ -f "$d/__init__.py" ] || continue
            case "$d" in tests|bench|build) continue ;; esac
            find "$d" -type f ! -name '*.pyc' ! -path '*/__pycache__/*'
        done
    } | LC_ALL=C sort)
}

# Wheels of the project and all its dependencies (plus pip itself) into $1.
# Offline first, from the wheel cache; PyPI only for what the cache lacks.
build_wheels() {
    local dest="$1" src="$K8PY_TMP/src" f
    mkdir -p "$WHEEL_CACHE" "$src"
    (cd "$K8PY_ROOT" && project_files | while IFS= read -r f; do
        mkdir -p "$src/$(dirname "$f")"; cp "$f" "$src/$f"; done)
    local pip=("$K8PY_VENV/bin/python" -m pip wheel --disable-pip-version-check -q
               --find-links "$WHEEL_CACHE" -w "$dest")
    log "building wheels of the project and its dependencies"
    if ! "${pip[@]}" --no-index "$src" pip setuptools >/dev/null 2>&1; then
        "${pip[@]}" "$src" pip setuptools 2>&1 | grep -v "^WARNING: Location 'file:" >&2 || true
        [ -n "$(ls "$dest"/k8py-*.whl 2>/dev/null)" ] || die "pip wheel failed"
    fi
    for f in "$dest"/*.whl; do
        case "$(basename "$f")" in k8py-*) ;; *) cp -n "$f" "$WHEEL_CACHE/" ;; esac
    done
}

build_k8py() {
    local tag=k8py/k8py:dev base="k8py/k8py-rootfs:$SUITE" hash ctx="$K8PY_TMP/k8py"
    rootfs k8py "$IMAGES/k8py/packages"
    hash="$({ image_id "$base"; hash_files images/k8py/Dockerfile $(project_files); } | sha256_stdin)"
    up_to_date "$tag" "$hash" && return 0
    [ -x "$K8PY_VENV/bin/python" ] || die "no virtualenv at $K8PY_VENV: run scripts/bootstrap first"
    mkdir -p "$ctx/wheels"
    build_wheels "$ctx/wheels"
    cp "$IMAGES/k8py/Dockerfile" "$ctx/"
    docker_build "$tag" "$hash" "$ctx" --build-arg "BASE=$base"
    # drop the intermediate wheel stage of this and earlier builds
    docker image prune -f --filter "label=k8py.build-stage=wheels" >/dev/null 2>&1 || true
}

build_pause() {
    local tag=k8py/pause:3.10 hash ctx="$K8PY_TMP/pause"
    hash="$(hash_files images/pause/pause.c images/pause/Dockerfile)"
    up_to_date "$tag" "$hash" && return 0
    [ -f /usr/lib/x86_64-linux-gnu/libc.a ] || [ -n "$(gcc -print-file-name=libc.a 2>/dev/null | grep /)" ] \
        || ensure_apt_packages gcc libc6-dev
    mkdir -p "$ctx"
    gcc -Os -static -s -Wall -Wextra -Werror -o "$ctx/pause" "$IMAGES/pause/pause.c" \
        || die "compiling images/pause/pause.c failed (is libc6-dev installed?)"
    cp "$IMAGES/pause/Dockerfile" "$ctx/"
    docker_build "$tag" "$hash" "$ctx"
}

build_toolbox() {
    local tag=k8py/toolbox:dev base="k8py/toolbox-rootfs:$SUITE" hash
    rootfs toolbox "$IMAGES/toolbox/packages"
    hash="$({ image_id "$base"; hash_files images/toolbox/Dockerfile; } | sha256_stdin)"
    up_to_date "$tag" "$hash" && return 0
    docker_build "$tag" "$hash" "$IMAGES/toolbox" --build-arg "BASE=$base"
}

build_python_minimal() {
    local tag="k8py/python-minimal:$SUITE" pkgs hash
    pkgs="$(read_packages "$IMAGES/python-minimal/packages")"
    hash="$(printf '%s\n%s\n' "$ROOTFS_RECIPE" "$pkgs" | sha256_stdin)"
    up_to_date "$tag" "$hash" || mmdebstrap_import "$tag" "$pkgs" "$hash" 'CMD ["python3"]'
}

build_hello() {
    local base hash version
    build_python_minimal
    base="$(image_id "k8py/python-minimal:$SUITE")"
    for version in 1.0 2.0; do
        hash="$({ echo "$base $version"; hash_files examples/hello/Dockerfile examples/hello/app.py; } | sha256_stdin)"
        up_to_date "k8py/hello:$version" "$hash" && continue
        docker_build "k8py/hello:$version" "$hash" "$K8PY_ROOT/examples/hello" --build-arg "VERSION=$version"
    done
}

build_all() {
    build_base
    build_pause
    build_hello
    build_toolbox
    build_k8py
}

main() {
    [ "$#" -gt 0 ] || set -- all
    docker info >/dev/null 2>&1 || die "no Docker engine answers: run scripts/bootstrap first"
    local what
    for what in "$@"; do
        case "$what" in
            all|base|k8py|pause|toolbox|hello) "build_$what" ;;
            -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; return 0 ;;
            *) die "unknown image '$what' (all|base|k8py|pause|toolbox|hello)" ;;
        esac
    done
    # earlier builds of our images, now untagged and unused
    [ "$BUILT" = 0 ] || docker image prune -f --filter "label=$HASH_LABEL" >/dev/null 2>&1 || true
}

start=$SECONDS
with_lock images main "$@"
[ $((SECONDS - start)) -lt 2 ] || log "images ready in $((SECONDS - start))s"

#!/usr/bin/env bash
# Build the serving images with podman, without a Docker engine or a registry.
#   scripts/podman_image.sh base                     make sure podman has python:3.11-slim (a local stand-in)
#   scripts/podman_image.sh build [IMAGE] [TARGET]   base, then build the Dockerfile's TARGET as IMAGE
#                                                    (default ie-serving:latest, the default target: sagemaker)
#   scripts/podman_image.sh both [IMAGE] [TFS_IMAGE] both targets from one copy of the sources: the
#                                                    default as IMAGE, tfserving as TFS_IMAGE (default
#                                                    ie-serving:latest, ie-serving-tfserving:latest)
# Target tfserving is tensorflow/serving's image contract. It shares the install layers with the
# SageMaker target; `both` builds from one snapshot of the build context, so a source edited
# between the two builds cannot make the second install everything again.
# The stand-in for python:3.11-slim is Debian bookworm from debootstrap (minbase + python3, venv,
# pip, ca-certificates), with /usr/local/bin/python, this machine's CA bundle and an /etc/pip.conf
# naming it. debootstrap runs once: its tree is cached as a tarball in IMAGE_CACHE (default
# .cache/image, git-ignored) and imported only when podman does not have the base image.
# Needs root and Debian's podman, runc and debootstrap (.ci/run installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=docker.io/library/python:3.11-slim
CACHE=$(realpath -m "${IMAGE_CACHE:-.cache/image}")  # absolute: `both` builds elsewhere
TARBALL=$CACHE/debootstrap-bookworm-minbase-python3.tar
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

say() { echo "podman_image: $*" >&2; }

seconds_since() { echo $(($(date +%s) - $1)); }

debootstrap_tarball() {
    [ -s "$TARBALL" ] && return
    local dir=$CACHE/rootfs start
    start=$(date +%s)
    rm -rf "$dir"
    say "debootstrap bookworm (minbase + python3) into $dir, once"
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
        bookworm "$dir" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
        || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
    # as the slim image: no package cache, no package lists
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    tar --numeric-owner -C "$dir" -cf "$TARBALL.partial" .
    mv "$TARBALL.partial" "$TARBALL"
    rm -rf "$dir"
    say "debootstrap took $(seconds_since "$start") s; cached as $TARBALL ($(du -h "$TARBALL" | cut -f1))"
}

ensure_base() {
    mkdir -p "$CACHE"
    [ -e "$CACHE/.gitignore" ] || echo '*' >"$CACHE/.gitignore"
    exec 9>"$CACHE/lock"
    flock 9  # one debootstrap and one import at a time, whoever asks
    if podman image exists "$BASE"; then
        return
    fi
    debootstrap_tarball
    local dir=$CACHE/import start
    start=$(date +%s)
    rm -rf "$dir" && mkdir -p "$dir"
    tar --numeric-owner -C "$dir" -xpf "$TARBALL"
    ln -sf /usr/bin/python3 "$dir/usr/local/bin/python"
    # pip inside the build reaches PyPI as this machine does: with this machine's CA bundle
    cp "$CA_BUNDLE" "$dir/etc/ssl/certs/ca-certificates.crt"
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$dir/etc/pip.conf"
    tar --numeric-owner -C "$dir" -c . | podman import \
        --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]' \
        - "$BASE" >/dev/null
    rm -rf "$dir"
    say "imported $BASE in $(seconds_since "$start") s"
}

build() {
    local image=${1:-ie-serving:latest} target=${2:-} start old new
    ensure_base
    old=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
    start=$(date +%s)
    podman build --pull=never --network host --isolation chroot ${target:+--target "$target"} -t "$image" .
    say "built $image${target:+ (target $target)} in $(seconds_since "$start") s"
    new=$(podman image inspect --format '{{.Id}}' "$image")
    # the image this build replaced, and its layers, unless something still uses them
    if [ -n "$old" ] && [ "$old" != "$new" ]; then
        podman rmi "$old" >/dev/null 2>&1 || true
    fi
}

both() {
    local image=${1:-ie-serving:latest} tfs_image=${2:-ie-serving-tfserving:latest} context start
    context=$(mktemp -d)
    trap "rm -rf '$context'" EXIT
    start=$(date +%s)
    # the build context: the Dockerfile, .dockerignore and the paths .dockerignore lets in
    cp Dockerfile .dockerignore "$context/"
    sed -n 's/^!//p' .dockerignore | while read -r path; do cp -a "$path" "$context/"; done
    (cd "$context" && build "$image" && build "$tfs_image" tfserving)
    say "built both targets in $(seconds_since "$start") s"
}

case "${1:-}" in
    base) ensure_base ;;
    build) build "${2:-}" "${3:-}" ;;
    both) both "${2:-}" "${3:-}" ;;
    *) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac

#!/bin/sh
# Builds mailsink the way the container image ships it and assembles the
# image's whole filesystem (its "payload") in OUTDIR:
#
#   OUTDIR/mailsink                           static binary (CGO_ENABLED=0)
#   OUTDIR/etc/ssl/certs/ca-certificates.crt  CA bundle, for outgoing TLS
#   OUTDIR/etc/passwd, OUTDIR/etc/group       the non-root user 10001
#   OUTDIR/data                               the database volume, owned by 10001
#   OUTDIR/tmp                                world-writable, sticky: SQLite's temp
#                                             files (big sorts, statement journals)
#
# The Dockerfile's build stage runs this script and its final stage copies
# OUTDIR onto scratch; container_test.go runs it too and starts the binary
# in OUTDIR as an empty root. One script, so the test proves what ships.
#
# Usage: scripts/build.sh OUTDIR
# Environment:
#   GOOS, GOARCH  target (default linux and the Go toolchain's own arch)
#   VERSION       stamped into the binary (default: git describe, else dev)
#   CA_CERTS      CA bundle to copy (default /etc/ssl/certs/ca-certificates.crt)
#   GO            the go command (default go)
set -eu

out=${1:?usage: scripts/build.sh OUTDIR}
go=${GO:-go}
ca=${CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
# Relative paths are the caller's; the build runs from the module root.
case $out in /*) ;; *) out=$PWD/$out ;; esac
case $ca in /*) ;; *) ca=$PWD/$ca ;; esac
cd "$(dirname "$0")/.."

goos=${GOOS:-linux}
goarch=${GOARCH:-$("$go" env GOARCH)}
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
uid=10001

mkdir -p "$out/etc/ssl/certs" "$out/data" "$out/tmp"
# OUTDIR is the image's / : traversable by the non-root user.
chmod 0755 "$out"

# -trimpath: no build-machine paths in the binary; -s -w: no symbol table
# or DWARF (about a third of the size); main.version: what `mailsink
# version` and the API report.
CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch \
	"$go" build -trimpath -ldflags "-s -w -X main.version=$version" -o "$out/mailsink" .

cp "$ca" "$out/etc/ssl/certs/ca-certificates.crt"
# Only the one user: Docker's USER and Kubernetes' runAsUser need no entry,
# but tools that print user names (and Go's os/user) do.
printf 'mailsink:x:%s:%s:mailsink:/data:/sbin/nologin\n' "$uid" "$uid" >"$out/etc/passwd"
printf 'mailsink:x:%s:\n' "$uid" >"$out/etc/group"
chmod 0644 "$out/etc/passwd" "$out/etc/group" "$out/etc/ssl/certs/ca-certificates.crt"
chmod 1777 "$out/tmp"
chmod 0755 "$out/data"
# Ownership needs root (the Dockerfile sets it with COPY --chown anyway).
if [ "$(id -u)" = 0 ]; then
	chown "$uid:$uid" "$out/data"
fi

# mailsink container: a static binary on scratch, running as a non-root user.
#   docker build --build-arg VERSION=$(git describe --tags --always) -t mailsink .
#   docker buildx build --platform linux/amd64,linux/arm64 -t mailsink .
# scripts/build.sh builds the binary and lays out the whole image filesystem;
# container_test.go runs the same script and starts the result in an empty
# root, which is how CI proves this image without a Docker engine.

# The build stage runs on the builder's own platform and cross-compiles
# (pure Go, so GOARCH is all it takes): no emulation for arm64.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
# Modules first: this layer survives source changes.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS=linux
ARG TARGETARCH
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH VERSION=$VERSION sh scripts/build.sh /rootfs

FROM scratch
# The payload is root-owned and read-only to the user, except /data (the
# database volume) and /tmp (SQLite's temp files; scratch has none, and
# without it the first migration fails with a disk I/O error).
COPY --from=build /rootfs/ /
COPY --from=build --chown=10001:10001 /rootfs/data /data
USER 10001:10001
ENV MAILSINK_DB=/data/mailsink.db
VOLUME /data
EXPOSE 1025 8025
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/mailsink", "healthcheck"]
ENTRYPOINT ["/mailsink"]

# mailsink container: a static binary on scratch, running as a non-root user.
#   docker build -t mailsink .
#   docker buildx build --platform linux/amd64,linux/arm64 -t mailsink .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS=linux
ARG TARGETARCH
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/mailsink . \
 && mkdir -p /out/data \
 && echo 'mailsink:x:10001:10001:mailsink:/data:/mailsink' > /out/passwd

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/passwd /etc/passwd
COPY --from=build --chown=10001:10001 /out/data /data
COPY --from=build /out/mailsink /mailsink
USER 10001:10001
ENV MAILSINK_DB=/data/mailsink.db
VOLUME /data
EXPOSE 1025 8025
HEALTHCHECK --interval=10s --timeout=3s --start-period=2s --retries=3 CMD ["/mailsink", "healthcheck"]
ENTRYPOINT ["/mailsink"]

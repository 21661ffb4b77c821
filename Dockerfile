# syntax=docker/dockerfile:1
# askonce: one static binary, every component a subcommand.
#   docker build -t askonce:dev .
#   docker run --rm askonce:dev config keys
# The final image has no shell and no package manager, and runs as the
# distroless nonroot user (65532:65532).

# --- build -------------------------------------------------------------------
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOOS=linux GOFLAGS=-trimpath
COPY go.mod go.sum ./
# the patched embedded broker that go.mod replaces (third_party/kfake/README.askonce.md)
COPY third_party/kfake/go.mod third_party/kfake/go.sum third_party/kfake/
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags "-s -w" -o /out/askonce ./cmd/askonce \
 && mkdir -p /out/var/lib/askonce/keys /out/var/lib/askonce/drop

# --- run ---------------------------------------------------------------------
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/askonce /usr/local/bin/askonce
# Writable places for signing keys and CSV drops, owned by the runtime user
# (volumes mounted there take this ownership on first use).
COPY --from=build --chown=65532:65532 /out/var/lib/askonce /var/lib/askonce
USER 65532:65532
# lookup API 8080, registry 8081, ops: connect 9102, materialize 9103, notify 9104
EXPOSE 8080 8081 9102 9103 9104
ENTRYPOINT ["/usr/local/bin/askonce"]
CMD ["--help"]

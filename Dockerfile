# syntax=docker/dockerfile:1

# One image holding every vidcomments binary; docker-compose.yml picks the
# program per service (command: ["/app/readsvc"], ["/app/stackctl", "schema"], …).
# Build: docker build -t vidcomments/app:dev .   (or `docker compose build`)

# ---------------------------------------------------------------- build --
FROM golang:1.26 AS build
WORKDIR /src

# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

# Only the sources the binaries are built from: the build context also holds
# .stack/, the native stack's live data directories, which must not be sent
# into the image.
COPY internal/ internal/
COPY schema/ schema/
COPY readsvc/ readsvc/
COPY writesvc/ writesvc/
COPY syncer/ syncer/
COPY cdc/ cdc/
COPY scripts/stackctl/ scripts/stackctl/

# Static binaries: the runtime image has no C library.
# -o /app/ with several main packages writes one binary per package, named
# after its directory.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /app/ \
      ./readsvc ./writesvc ./syncer ./cdc ./scripts/stackctl

# -------------------------------------------------------------- runtime --
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /app/ /app/
USER nonroot:nonroot
# No CMD on purpose: every compose service names its program.

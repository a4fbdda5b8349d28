# The keel binary in a small image. docker-compose.yml runs each part of
# Keel (collector, loaders, console) from it.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /keel ./cmd/keel

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /keel /keel
ENTRYPOINT ["/keel"]

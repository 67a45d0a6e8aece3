# Build a static clonebot and run it as an unprivileged user in a minimal image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/clonebot ./cmd/clonebot

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/clonebot /usr/local/bin/clonebot
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/clonebot"]
CMD ["serve", "--config", "/etc/clonebot/clonebot.yaml"]

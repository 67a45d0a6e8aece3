# Build a static clonebot and run it as an unprivileged user in a minimal image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/clonebot ./cmd/clonebot \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/clonebot-fixtures ./cmd/clonebot-fixtures

# busybox for the compose file's shell steps; the binaries are static.
FROM busybox:1.37-musl
RUN adduser -D -u 65532 nonroot
COPY --from=build /out/clonebot /out/clonebot-fixtures /usr/local/bin/
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/clonebot"]
CMD ["serve", "--config", "/etc/clonebot/clonebot.yaml"]

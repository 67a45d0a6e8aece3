# Static clonebot binaries in an image with nothing else: no shell, no package
# manager, no curl. The binary carries Mozilla's CA roots (used where the system has
# none) and the time zone database, checks its own health (`clonebot health`), and
# runs as an unprivileged user. cmd/clonebot/image_test.go checks this file.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/clonebot ./cmd/clonebot \
 && go build -trimpath -ldflags "-s -w" -o /out/clonebot-fixtures ./cmd/clonebot-fixtures

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/clonebot /out/clonebot-fixtures /usr/local/bin/
ENV CLONEBOT_CONFIG=/etc/clonebot/clonebot.yaml
USER 65532:65532
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/usr/local/bin/clonebot", "health"]
ENTRYPOINT ["/usr/local/bin/clonebot"]
CMD ["serve"]

# ferry in a small non-root image. The local target runs git and sh, so the
# image keeps them; everything else is the one static binary.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/ferry ./cmd/ferry

FROM alpine:3.22
RUN apk add --no-cache git openssh-client ca-certificates \
 && adduser -D -H -u 10001 ferry \
 && mkdir -p /var/lib/ferry && chown ferry /var/lib/ferry
COPY --from=build /out/ferry /usr/local/bin/ferry
USER 10001:10001
WORKDIR /var/lib/ferry
ENV FERRY_LISTEN=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["ferry"]
CMD ["serve", "--config", "/etc/ferry/ferry.yaml"]

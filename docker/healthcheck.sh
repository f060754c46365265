#!/usr/bin/env bash
# The images' HEALTHCHECK: exit 0 when GET /health on this container answers 200.
# Neither curl nor wget is assumed in the runtime images, so it speaks HTTP through bash's /dev/tcp.
# The port is RLHF4J_PORT's (default 8080); a server started with --port N needs RLHF4J_PORT=N instead.
set -u
port="${RLHF4J_PORT:-8080}"
exec 3<>"/dev/tcp/127.0.0.1/${port}" || exit 1
printf 'GET /health HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$port" >&3 || exit 1
IFS= read -r -t 5 status <&3 || exit 1
# "HTTP/1.1 200 OK\r"
[[ "$status" == HTTP/1.?" 200"* ]]

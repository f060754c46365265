#!/usr/bin/env bash
# The images' entrypoint: the rlhf4j command line, laid out as the Dockerfiles copy it.
#   $RLHF4J_HOME/rlhf4j-cli.jar, $RLHF4J_HOME/lib/*.jar, $RLHF4J_HOME/demo/base-model
# It does what the repository's ./rlhf4j launcher does, less the build-on-first-use: the image is built.
# JAVA_OPTS (word-split on purpose, like the launcher's RLHF4J_JAVA_OPTS) adds JVM options, e.g.
#   JAVA_OPTS='-XX:MaxRAMPercentage=50'
set -euo pipefail
home="${RLHF4J_HOME:-/opt/rlhf4j}"
# exec: java becomes the container's main process and gets SIGTERM from `docker stop` (serve shuts
# down cleanly on it).
# shellcheck disable=SC2086
exec java ${JAVA_OPTS:-} -Dai.djl.offline=true -Drlhf4j.home="$home" \
    -cp "$home/rlhf4j-cli.jar:$home/lib/*" io.rlhf4j.clients.cli.Rlhf4j "$@"

#!/bin/sh
# Archives the example's logs into $AGENT_WORK/backup.tar.
set -eu
mkdir -p "$AGENT_WORK/logs"
tar -cf "$AGENT_WORK/backup.tar" -C "$AGENT_WORK" logs
echo "backed up to $AGENT_WORK/backup.tar"

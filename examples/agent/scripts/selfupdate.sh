#!/bin/sh
# Pretends to update the agent to version $1. A real self-update would
# restart the agent, which is how a self-update usually ends.
set -eu
echo "agent updated to $1"
echo "$1" > "$AGENT_WORK/agent-version"

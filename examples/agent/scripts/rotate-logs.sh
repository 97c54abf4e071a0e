#!/bin/sh
# Rotates the example's logs under $AGENT_WORK/logs: x.log becomes x.log.1.
set -eu
mkdir -p "$AGENT_WORK/logs"
echo "$AFTERHOURS_RUN rotated" >> "$AGENT_WORK/logs/agent.log"
for f in "$AGENT_WORK"/logs/*.log; do
	mv "$f" "$f.1"
	echo "rotated $f"
done

#!/bin/sh
# Pretends to apply package $1 at version $2, leaving a mark.
set -eu
echo "applying $1 $2 ($AFTERHOURS_KIND, attempt of run $AFTERHOURS_RUN)"
touch "$AGENT_WORK/applied-$1-$2"

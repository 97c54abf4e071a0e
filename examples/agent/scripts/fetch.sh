#!/bin/sh
# Pretends to fetch packages in the pkg-repo slot.
set -eu
echo "fetching packages $* in cycle $AFTERHOURS_CYCLE"

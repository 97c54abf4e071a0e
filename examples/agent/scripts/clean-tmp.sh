#!/bin/sh
# Deletes files older than $1 minutes under $AGENT_WORK/tmp.
set -eu
mkdir -p "$AGENT_WORK/tmp"
find "$AGENT_WORK/tmp" -type f -mmin "+$1" -print -delete

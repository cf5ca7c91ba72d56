#!/bin/sh
# Stands in for restarting a service: takes a moment, so a deploy can be watched.
echo "restarting demo on $FERRY_HOST ($FERRY_VERSION)"
sleep 1

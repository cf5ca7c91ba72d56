#!/bin/sh
# Builds the demo "application": a page that says which version it is.
set -e
mkdir -p dist
version=$(cat VERSION)
sed "s/@VERSION@/$version/" index.html.in > dist/index.html
cp restart.sh health.sh dist/
echo "built demo $version"

#!/bin/sh
# Creates the quickstart's demo git repository (var/demo-repo) if it is
# missing: a few commits on main and the tags v1.0.0 and v1.1.0.
set -e
here=$(cd "$(dirname "$0")" && pwd)
repo="$here/var/demo-repo"
[ -d "$repo/.git" ] && exit 0
mkdir -p "$repo"
git() { command git -C "$repo" -c user.name=ferry-quickstart -c user.email=quickstart@ferry.invalid -c init.defaultBranch=main -c commit.gpgsign=false -c tag.gpgsign=false "$@"; }
git init -q
cp "$here/demo/"* "$repo/"
chmod +x "$repo/build.sh" "$repo/restart.sh" "$repo/health.sh"
echo "0.9.0" > "$repo/VERSION"
git add -A && git commit -qm "demo: a page that says its version"
echo "1.0.0" > "$repo/VERSION"
git commit -qam "demo: version 1.0.0"
git tag -a v1.0.0 -m "v1.0.0"
echo "1.1.0" > "$repo/VERSION"
git commit -qam "demo: version 1.1.0"
git tag -a v1.1.0 -m "v1.1.0"
echo "1.2.0-dev" > "$repo/VERSION"
git commit -qam "demo: start 1.2.0"
echo "created the demo repository in $repo (main, tags v1.0.0 and v1.1.0)"

#!/usr/bin/env bash
# Copies the Live Link plugin and its host-free core into an Unreal project:
#   engines/unreal/install_plugin.sh /path/to/MyProject
# Result: MyProject/Plugins/AvatarBridge/{AvatarBridge.uplugin,Source/...,Core/{include,src}}.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
project="${1:?usage: install_plugin.sh /path/to/UnrealProject}"
[[ -n "$(ls "$project"/*.uproject 2>/dev/null)" ]] || { echo "no .uproject in $project" >&2; exit 2; }
dest="$project/Plugins/AvatarBridge"
rm -rf "$dest"
mkdir -p "$dest/Core"
cp -R "$here/AvatarBridge/." "$dest/"
cp -R "$here/core/include" "$here/core/src" "$dest/Core/"
echo "installed into $dest; restart the editor (it offers to build the plugin)" >&2

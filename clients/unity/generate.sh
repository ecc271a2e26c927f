#!/usr/bin/env bash
# Generate the C# API code for the Unity sample without the .NET SDK: protoc + grpc_csharp_plugin.
#
#   PROTOC=/path/to/protoc GRPC_CSHARP_PLUGIN=/path/to/grpc_csharp_plugin clients/unity/generate.sh
#
# Both programs ship in the Grpc.Tools NuGet package (a zip: tools/<os>_<arch>/), or come from a
# gRPC source build; each defaults to the one on PATH. Debian's protobuf-compiler-grpc has no
# grpc_csharp_plugin. Writes Motionsearch.cs and MotionsearchGrpc.cs (client only) into
# Assets/MotionSearch/Generated/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
proto_root="$here/../../proto"
out="$here/Assets/MotionSearch/Generated"
protoc="${PROTOC:-$(command -v protoc || true)}"
plugin="${GRPC_CSHARP_PLUGIN:-$(command -v grpc_csharp_plugin || true)}"
[ -n "$protoc" ] || { echo "generate.sh: protoc not found: set PROTOC (see clients/unity/README.md)" >&2; exit 1; }
[ -n "$plugin" ] || { echo "generate.sh: grpc_csharp_plugin not found: set GRPC_CSHARP_PLUGIN (see clients/unity/README.md)" >&2; exit 1; }
mkdir -p "$out"
"$protoc" --proto_path="$proto_root" --csharp_out="$out" --grpc_out="$out" --grpc_opt=no_server \
  --plugin=protoc-gen-grpc="$plugin" motionsearch/v1/motionsearch.proto
echo "generated: $out/Motionsearch.cs $out/MotionsearchGrpc.cs"

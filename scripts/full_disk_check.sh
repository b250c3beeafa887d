#!/usr/bin/env bash
# scripts/full_disk_check.sh [BUILD_DIR]: the service on a really full filesystem. Mounts a 2 MiB
# tmpfs (needs root), runs ServiceServerRealDisk.* from service_tests with its database there, and
# unmounts it again. Expected: 507 insufficient_storage, earlier results intact, no partial files.
set -euo pipefail
BUILD="${1:-build}"
[ "$(id -u)" = 0 ] || { echo "full_disk_check.sh: needs root to mount a tmpfs" >&2; exit 1; }
DIR="$(mktemp -d /tmp/lc-full-disk.XXXXXX)"
mount -t tmpfs -o size=2m tmpfs "$DIR"
trap 'umount "$DIR"; rmdir "$DIR"' EXIT
LEUKOCRYPT_SMALL_FS="$DIR" "$BUILD/tests/service/service_tests" --gtest_filter='ServiceServerRealDisk.*'

#!/bin/bash
# Builds the sandbox's two images without any registry:
#   sbdi-sandbox-base:<hash>  Debian bookworm minbase rootfs (debootstrap) + packages.txt + sandbox-init
#   sbdi-sandbox-app:<hash>   busybox-static only; also saved to IMAGES_DIR/app-<hash>.tar for `docker load`
#                             inside each inner dockerd.
# usage: build-images.sh HASH CACHE_DIR MIRROR ASSETS_DIR DOCKER_BIN
# The mirror is passed in (read from the machine's own apt sources by the caller), never hard-coded.
set -euo pipefail
hash=$1 cache=$2 mirror=$3 assets=$4 docker=$5
base="sbdi-sandbox-base:$hash"
app="sbdi-sandbox-app:$hash"
debs="$cache/debs"
images="$cache/images"
mkdir -p "$debs" "$images"
work=$(mktemp -d "$cache/build.XXXXXX")
rootfs="$work/rootfs"

cleanup() {
  set +e
  # debootstrap mounts proc/sys inside the chroot; never delete across a mount point.
  if [ -d "$rootfs" ]; then
    { grep -o " $rootfs/[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m"; done
  fi
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

pkgs=$(grep -v '^[[:space:]]*#' "$assets/packages.txt" | grep -v '^[[:space:]]*$' | paste -sd, -)
echo "build-images: debootstrap bookworm minbase with: $pkgs" >&2
debootstrap --variant=minbase --include="$pkgs" --cache-dir="$debs" bookworm "$rootfs" "$mirror" >&2

# Image configuration.
install -m 0755 "$assets/sandbox-init" "$rootfs/usr/local/sbin/sandbox-init"
rm -f "$rootfs"/etc/ssh/ssh_host_*           # each container generates its own host keys at start
rm -f "$rootfs/etc/hostname"                 # docker provides it
rm -f "$rootfs"/var/cache/apt/archives/*.deb
rm -rf "$rootfs"/var/log/*.log "$rootfs"/tmp/*
# Debian's /etc/init.d/docker raises RLIMIT_NOFILE/NPROC under `set -e`; without CAP_SYS_RESOURCE (not
# grantable on this machine) that fails and docker never starts. Keep the limits we have instead.
sed -i -E 's/^([[:space:]]*ulimit -[npu] (1048576|unlimited))[[:space:]]*$/\1 2>\/dev\/null || true  # sbdi sandbox: no CAP_SYS_RESOURCE/' \
  "$rootfs/etc/init.d/docker"
test "$(grep -c 'sbdi sandbox: no CAP_SYS_RESOURCE' "$rootfs/etc/init.d/docker")" -ge 2 || {
  echo "build-images: could not patch the ulimit lines of /etc/init.d/docker" >&2; exit 1; }
test -x "$rootfs/usr/bin/tini" || { echo "build-images: tini missing in rootfs" >&2; exit 1; }
test -x "$rootfs/etc/init.d/docker" || { echo "build-images: /etc/init.d/docker missing in rootfs" >&2; exit 1; }

echo "build-images: importing $base" >&2
tar -C "$rootfs" --numeric-owner --xattrs -c . | "$docker" import \
  --change 'ENTRYPOINT ["/usr/bin/tini", "--"]' \
  --change 'CMD ["/usr/local/sbin/sandbox-init"]' \
  --change 'ENV container=docker' \
  --change "LABEL sbdi.sandbox.image=base sbdi.sandbox.hash=$hash" \
  - "$base" >&2

# The app image: a static busybox and its applet links.
app_root="$work/app"
mkdir -p "$app_root/bin" "$app_root/data" "$app_root/tmp"
chmod 1777 "$app_root/tmp"
cp "$rootfs/bin/busybox" "$app_root/bin/busybox"
for a in $("$app_root/bin/busybox" --list); do
  [ "$a" = busybox ] || ln -s busybox "$app_root/bin/$a"
done
echo "build-images: importing $app" >&2
tar -C "$app_root" --numeric-owner -c . | "$docker" import \
  --change 'ENV PATH=/bin' \
  --change 'CMD ["/bin/sh"]' \
  --change "LABEL sbdi.sandbox.image=app sbdi.sandbox.hash=$hash" \
  - "$app" >&2
"$docker" save -o "$images/app-$hash.tar.partial" "$app"
mv "$images/app-$hash.tar.partial" "$images/app-$hash.tar"
echo "build-images: done $base $app" >&2

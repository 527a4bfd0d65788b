#!/bin/bash
# Builds the sbdi.backup test VM from Debian packages only, cached under .cache/vm/<key>/:
#   vmlinuz      Debian's own kernel (linux-image-amd64's current dependency), from `apt-get download`
#   initrd.img   busybox-static + the modules to mount the root disk (virtio, ext4)
#   rootfs.img   ext4 image of a debootstrap minbase rootfs with lvm2, thin-provisioning-tools,
#                glusterfs-server, xfsprogs, openssh-server, rsync, sudo, python3, python3-apt (the
#                playbook's package task), udev, tini and the kernel's modules (dm-snapshot,
#                dm-thin-pool, fuse, xfs, ...); no systemd, our own init
#   id_ed25519   root's ssh key into the VM, known_hosts (alias sbdi-vm)
# The key hashes every build input (this script, tests/vm/guest/*, kernel package and version,
# package list): present = reused as is, absent = built. Prints the cache directory on stdout.
# The mirror is read at run time from this machine's apt sources, never written anywhere.
# usage: scripts/vm-build.sh [--print-key]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache_root=${SBDI_VM_CACHE:-$repo/.cache/vm}
guest=$repo/tests/vm/guest
suite=bookworm
packages=(
  lvm2 thin-provisioning-tools dmeventd xfsprogs e2fsprogs
  glusterfs-server glusterfs-client
  openssh-server openssh-client rsync sudo python3 python3-apt acl attr
  udev kmod iproute2 procps psmisc util-linux tini
)
# Modules of the initramfs: enough to see and mount the root disk; the rest load from the rootfs.
initramfs_modules=(virtio_pci virtio_blk crc32c_generic ext4)

log() { echo "vm-build: $*" >&2; }

kernel_pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kernel_pkg" ] || { log "apt-cache knows no linux-image-amd64 (run apt-get update)"; exit 1; }
kernel_ver=$(apt-cache policy "$kernel_pkg" | awk '/Candidate:/ {print $2}')
# Two stages: the debootstrap rootfs (slow, keyed by suite and packages) and the bootable set
# (fast, keyed by everything, including this script and the guest's init files).
base_key=$(echo "$suite ${packages[*]}" | sha256sum | cut -c1-16)
key=$(
  {
    cat "$0" "$guest"/*
    echo "$base_key $kernel_pkg $kernel_ver ${initramfs_modules[*]}"
  } | sha256sum | cut -c1-16
)
if [ "${1:-}" = --print-key ]; then echo "$key"; exit 0; fi
out=$cache_root/$key
if [ -f "$out/ready" ]; then
  echo "$out"
  exit 0
fi
# One build at a time (two test runs starting together); the second finds the first's result.
mkdir -p "$cache_root"
exec 9>"$cache_root/.build.lock"
flock 9
if [ -f "$out/ready" ]; then
  echo "$out"
  exit 0
fi

mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk -v s="$suite" '
      /^URIs:/ {u=$2} /^Suites:/ {ok=0; for (i=2;i<=NF;i++) if ($i==s) ok=1}
      /^[[:space:]]*$/ {if (ok && u !~ /security/) {print u; exit} u=""; ok=0}
      END {if (ok && u !~ /security/) print u}' "$f" | head -n1)
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  awk -v s="$suite" '$1=="deb" && $0 ~ " "s" " && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
    /etc/apt/sources.list 2>/dev/null | head -n1
}
mirror_uri=$(mirror)
[ -n "$mirror_uri" ] || { log "no $suite mirror in this machine's apt sources"; exit 1; }

for tool in debootstrap mkfs.ext4 cpio busybox qemu-img depmod; do
  command -v "$tool" >/dev/null || { log "$tool missing: run scripts/setup-host.sh"; exit 1; }
done
[ -x /bin/busybox ] && file_busybox=/bin/busybox || file_busybox=$(command -v busybox)
ldd "$file_busybox" >/dev/null 2>&1 && { log "$file_busybox is not static: install busybox-static"; exit 1; }

mkdir -p "$cache_root/debs" "$cache_root/kernel"
work=$(mktemp -d "$cache_root/build.XXXXXX")
rootfs=$work/rootfs
cleanup() {
  set +e
  if [ -d "$rootfs" ]; then
    { grep -o " $rootfs/[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m"; done
  fi
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
t0=$(date +%s)

# 1. The kernel package, unpacked.
log "kernel $kernel_pkg $kernel_ver"
deb=$(find "$cache_root/kernel" -name "${kernel_pkg}_${kernel_ver//:/%3a}_*.deb" | head -n1)
if [ -z "$deb" ]; then
  (cd "$cache_root/kernel" && apt-get download -q "$kernel_pkg=$kernel_ver" >&2)
  deb=$(find "$cache_root/kernel" -name "${kernel_pkg}_*.deb" -newer "$work" | head -n1)
fi
[ -f "$deb" ] || { log "could not download $kernel_pkg"; exit 1; }
dpkg-deb -x "$deb" "$work/kernel"
kver=${kernel_pkg#linux-image-}
moddir=$work/kernel/lib/modules/$kver
[ -f "$moddir/modules.dep" ] || depmod -b "$work/kernel" "$kver"

# 2. The initramfs: busybox + the closure of initramfs_modules in dependency order.
ird=$work/initramfs
mkdir -p "$ird/bin" "$ird/lib/modules"
cp "$file_busybox" "$ird/bin/busybox"
ln -s busybox "$ird/bin/sh"
install -m 0755 "$guest/initramfs-init" "$ird/init"
declare -A seen=()
order=()
add_module() { # name or relative path
  local rel name=$1 dep
  if [[ $name == *.ko* ]]; then rel=$name; else
    rel=$(awk -F: -v n="$name" '{f=$1; sub(".*/", "", f); sub(/\.ko(\.[a-z]+)?$/, "", f); gsub("-", "_", f); if (f==n) {print $1; exit}}' "$moddir/modules.dep")
    if [ -z "$rel" ]; then grep -qw "$name" "$moddir/modules.builtin" 2>/dev/null && return 0; log "module $name not found"; exit 1; fi
  fi
  [ -n "${seen[$rel]:-}" ] && return 0
  seen[$rel]=1
  local deps
  read -r -a deps < <(awk -F: -v r="$rel" '$1==r {print $2; exit}' "$moddir/modules.dep") || true
  for dep in "${deps[@]}"; do add_module "$dep"; done
  order+=("$rel")
}
for m in "${initramfs_modules[@]}"; do add_module "$m"; done
: >"$ird/modules.order"
for rel in "${order[@]}"; do
  f=$(basename "$rel")
  case "$f" in
    *.ko.xz) xz -dc "$moddir/$rel" >"$ird/lib/modules/${f%.xz}"; f=${f%.xz} ;;
    *.ko.zst) zstd -qdc "$moddir/$rel" >"$ird/lib/modules/${f%.zst}"; f=${f%.zst} ;;
    *) cp "$moddir/$rel" "$ird/lib/modules/$f" ;;
  esac
  echo "$f" >>"$ird/modules.order"
done
log "initramfs modules: $(paste -sd' ' "$ird/modules.order")"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.img"

# 3. The rootfs: the debootstrap stage is cached apart (base-<key>.tar) and copied.
base_tar=$cache_root/base-$base_key.tar
if [ ! -f "$base_tar" ]; then
  log "debootstrap $suite minbase (cold: about 2 minutes)"
  debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" --cache-dir="$cache_root/debs" \
    "$suite" "$rootfs" "$mirror_uri" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    exit 1
  }
  rm -f "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" --numeric-owner --xattrs -cf "$base_tar.partial" .
  mv "$base_tar.partial" "$base_tar"
  # Older base stages are of no further use.
  find "$cache_root" -maxdepth 1 -name 'base-*.tar' ! -name "base-$base_key.tar" -delete
else
  mkdir -p "$rootfs"
  tar -C "$rootfs" --numeric-owner --xattrs -xf "$base_tar"
fi
mkdir -p "$rootfs/lib/modules"
cp -a "$moddir" "$rootfs/lib/modules/"
install -m 0755 "$guest/sbdi-vm-init" "$rootfs/usr/local/sbin/sbdi-vm-init"
# No services start at package install or boot: our init starts what the tests need.
rm -f "$rootfs"/etc/ssh/ssh_host_*
chroot "$rootfs" ssh-keygen -A >/dev/null
ssh-keygen -q -t ed25519 -N '' -C sbdi-vm -f "$work/id_ed25519"
install -d -m 0700 "$rootfs/root/.ssh"
install -m 0600 "$work/id_ed25519.pub" "$rootfs/root/.ssh/authorized_keys"
echo "sbdi-vm $(cat "$rootfs/etc/ssh/ssh_host_ed25519_key.pub")" >"$work/known_hosts"
cat >"$rootfs/etc/ssh/sshd_config.d/sbdi-vm.conf" <<'CONF'
PermitRootLogin prohibit-password
PasswordAuthentication no
UseDNS no
MaxSessions 30
MaxStartups 30:30:100
CONF
# LVM: no dmeventd monitoring (no systemd to run it); devices from udev.
sed -i -E 's/^([[:space:]]*)# ?monitoring = 1/\1monitoring = 0/' "$rootfs/etc/lvm/lvm.conf"
rm -f "$rootfs"/var/cache/apt/archives/*.deb
rm -rf "$rootfs"/var/log/*.log "$rootfs"/tmp/*
mkdir -p "$rootfs/bricks" "$rootfs/docker" "$rootfs/docker_local"
ln -sfn ../proc/self/mounts "$rootfs/etc/mtab"  # as on any Debian system; glusterd finds brick devices there

# 4. The disk image: rootfs size + 1 GiB headroom, sparse.
size_mb=$(($(du -sm "$rootfs" | cut -f1) + 1024))
mkfs.ext4 -q -F -L sbdi-vm-root -d "$rootfs" "$work/rootfs.img" "${size_mb}M" >"$work/mkfs.log"

mkdir -p "$out"
cp "$work/kernel/boot/vmlinuz-$kver" "$out/vmlinuz"
mv "$work/initrd.img" "$work/rootfs.img" "$work/id_ed25519" "$work/id_ed25519.pub" "$work/known_hosts" "$out/"
echo "$kernel_pkg $kernel_ver" >"$out/kernel"
# Older bootable sets are of no further use (a running VM keeps its open files).
find "$cache_root" -mindepth 1 -maxdepth 1 -type d -regextype egrep -regex '.*/[0-9a-f]{16}' ! -name "$key" -exec rm -rf {} +
date -u +%FT%TZ >"$out/ready"
log "built $out in $(($(date +%s) - t0)) s"
echo "$out"

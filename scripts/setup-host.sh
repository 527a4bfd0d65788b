#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine (as root) to build, test and demo sbdi.backup:
# Debian packages only, then a running dockerd. Safe to run again.
set -euo pipefail

packages=(
  ansible ansible-lint            # ansible-core 2.14 + the collections Debian ships (community.docker)
  docker.io tini                  # the sandbox's hosts are real containers
  debootstrap                     # the sandbox's base image is built from Debian packages, no registry
  openssh-client openssh-server rsync sudo acl attr
  btrfs-progs zfs-fuse            # real storage backends on this kernel (no device-mapper)
  shellcheck
  qemu-system-x86 qemu-utils      # the LVM/Gluster test VM (scripts/vm.sh): Debian's kernel under emulation, overlays
  cpio busybox-static kmod e2fsprogs  # ... its initramfs (busybox, depmod) and root image (mkfs.ext4 -d)
)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-host.sh: run as root (it installs Debian packages and starts dockerd)" >&2
  exit 2
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node and npm: keep whatever the machine has (a newer Node often ships its own npm, which
# conflicts with Debian's npm package); otherwise Debian's (Node 18).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Node ≥ 18 is needed; keep a newer one if the machine already has it.
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' || {
  echo "setup-host.sh: node >= 18 is required" >&2
  exit 1
}

# dockerd: systemd starts it on a normal Debian; machines without systemd need it started by hand.
if ! docker info >/dev/null 2>&1; then
  if [ -d /run/systemd/system ]; then
    systemctl start docker
  else
    nohup dockerd >/var/log/dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "setup-host.sh: dockerd did not start (see /var/log/dockerd.log)" >&2; exit 1; }
fi
echo "setup-host.sh: ready"

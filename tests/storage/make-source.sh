#!/bin/bash
# A source's live filesystem for the storage tests, mounted at LIVE: a btrfs subvolume on a loop
# file, or a zfs-fuse dataset on a file-backed pool (zfs-fuse started with xattrs when not running).
#   make-source.sh btrfs LIVE
#   make-source.sh zfs LIVE POOL/DATASET
set -euo pipefail
backend=$1 live=$2 dataset=${3:-}
mkdir -p "$live" /var/lib/storagetest
case "$backend" in
  btrfs)
    truncate -s 1G /var/lib/storagetest/source.img
    mkfs.btrfs -q /var/lib/storagetest/source.img >/dev/null
    mkdir -p /mnt/source-top
    mount -o loop /var/lib/storagetest/source.img /mnt/source-top
    btrfs subvolume create /mnt/source-top/live >/dev/null
    umount /mnt/source-top
    mount -o loop,subvol=live /var/lib/storagetest/source.img "$live"
    ;;
  zfs)
    if ! pgrep -x zfs-fuse >/dev/null; then
      grep -qx enable-xattr /etc/zfs/zfsrc || echo enable-xattr >>/etc/zfs/zfsrc
      zfs-fuse --pidfile /run/zfs-fuse.pid
      for _ in $(seq 1 40); do zpool list >/dev/null 2>&1 && break; sleep 0.25; done
    fi
    truncate -s 1G /var/lib/storagetest/source.img
    zpool create -m none "${dataset%%/*}" /var/lib/storagetest/source.img
    zfs create -o mountpoint="$live" "$dataset"
    ;;
  *)
    echo "make-source.sh: unknown backend '${backend}'" >&2
    exit 2
    ;;
esac

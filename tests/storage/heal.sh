#!/bin/bash
# A zfs store made the way older versions of the target role made it, before the role ran
# sbdi-target-setup (or by hand): zfs-fuse started without enable-xattr, pool and dataset created
# without it. The first capsule must restart zfs-fuse with xattrs (else ACLs and xattrs would be
# lost silently), and a backup must then keep them.
set -euo pipefail
L=/opt/sbdi/backup/libexec
sed -i '/^enable-xattr$/d' /etc/zfs/zfsrc
zfs-fuse --pidfile /run/zfs-fuse.pid
for _ in $(seq 1 40); do zpool list >/dev/null 2>&1 && break; sleep 0.25; done
mkdir -p /var/lib/sbdi
truncate -s 1G /var/lib/sbdi/pool.img
zpool create -m /backup backup /var/lib/sbdi/pool.img
zfs create -o compression=gzip-7 -o mountpoint=/backup/current backup/current
if setfattr -n user.probe -v 1 /backup/current 2>/dev/null; then
  echo "CHECK the hand-made store starts without xattrs: FAILED"
  exit 1
fi
$L/prepare_target 2>/dev/null | tail -n 1 | grep -q '"ok":true' || { echo "CHECK prepare_target heals the store: FAILED"; exit 1; }
setfattr -n user.probe -v 1 /backup/current || { echo "CHECK xattrs work after prepare_target: FAILED"; exit 1; }
grep -qx enable-xattr /etc/zfs/zfsrc || { echo "CHECK zfsrc has enable-xattr: FAILED"; exit 1; }
echo "CHECK prepare_target restarts zfs-fuse with xattrs: ok"
$L/prepare_target 2>&1 | grep -q 'restarting' && { echo "CHECK a second prepare_target restarts nothing: FAILED"; exit 1; }
echo "CHECK a second prepare_target restarts nothing: ok"
echo "HEAL PASSED"

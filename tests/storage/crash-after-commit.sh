#!/bin/bash
# A power cut right after commit_backup returned: the store's device is copied as it is at that
# instant (every write the filesystem has sent to it, nothing it still holds in memory), the store
# is unmounted, and the copy takes the device's place. The backup must still be there, complete
# and restorable, as the director was told.
# Usage: crash-after-commit.sh IMAGE [ext4]: IMAGE is the store's device (a loop file); ext4: the
# test mounts it at /backup itself (a dir store).
set -euo pipefail
image=$1 mounted_by_test=${2:-}
L=/opt/sbdi/backup/libexec
id=20260101_000001
check() { if eval "$2"; then echo "CHECK $1 ok"; else echo "CHECK $1 FAILED"; failed=1; fi; }
failed=0
head -c 300000 /dev/urandom >/srv/data/payload
echo first >/srv/data/note
sync
"$L/prepare_target" </dev/null >/dev/null
"$L/prepare_source_snapshot" >/dev/null
printf -- '- %s\n' "$id" | "$L/perform_rsync" >/dev/null
"$L/remove_source_snapshot" >/dev/null
printf '{"id":"%s","status":"complete","sources":[{"host":"storage-1","target":"storage-1","bytes":300006}]}' "$id" |
  "$L/commit_backup" "$id" >/dev/null
cp --sparse=always "$image" /tmp/crash.img
# The power cut ends everything still running: a dir store's making of current after the commit
# (every process that holds its lock).
bash "$(dirname "$0")/kill-lock-holders.sh"
sleep 0.2
umount /backup
cp --sparse=always /tmp/crash.img "$image"
rm -f /tmp/crash.img
[ -z "$mounted_by_test" ] || mount -o loop "$image" /backup
listed=$("$L/list_backups" 2>/dev/null || true)
check "the backup is listed after the crash" '[[ $listed == *"$id"* ]]'
check "the backup can be activated" '"$L/activate_backup" "$id" >/dev/null'
check "it holds the source's content" 'cmp -s /srv/data/payload "/backup/restore/storage-1@+srv+data/payload"'
"$L/deactivate_backup" >/dev/null 2>&1 || true
prepared=$("$L/prepare_target" </dev/null 2>/dev/null || true)
check "the next backup starts from it" '[[ $prepared == *"\"base\":\"${id}\""* ]]'
[ "$failed" = 0 ] && echo "CRASH PASSED"

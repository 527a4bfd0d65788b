#!/bin/bash
# The listing perform_rsync makes from btrfs's own changes since a base (source/btrfs-base) must be
# the one a walk of the snapshot gives, record for record. Inside a test container where a host
# with a btrfs source was installed and its live dir made (make-source.sh btrfs LIVE):
#   listing-from-base.sh SEED ROUNDS CHANGES SKIP
# SKIP is a top-level directory the host's backup_source_exclude names. Each round makes changes
# (mutate.py's random ones, then a set one: a file of several names with one of them in SKIP; a
# ctime-only change; such files changed through their name in SKIP; a directory moved with one
# name of a file whose other name stays; two directories swapped and names like the ones btrfs
# send gives its temporary entries), reads every file (the live dir is
# remounted strictatime: every atime moves), takes the snapshot as
# prepare_source_snapshot does, and compares the two listings. Prints "FROM_BASE n" for every
# round listed from its base, "WALKED n" where the function fell back to a walk, and exits
# non-zero at the first difference. Each round also checks what the push makes of the two
# listings (sbdi_tree_changes): every name of a changed file of several goes in one list with it,
# and the tree's counts from the base's and the difference are those of the whole new listing.
set -euo pipefail
export LC_ALL=C SBDI_NO_SYSLOG=1 SBDI_PHASE=test
here=$(cd "$(dirname "$0")" && pwd)
seed=$1 rounds=$2 changes=$3 skip=$4
capsule=/opt/sbdi/backup/libexec/perform_rsync
# shellcheck source=/dev/null
. /opt/sbdi/lib/backup-runtime
# The capsule's own functions and paths.
live_dir='' snapshot_dir='' snapshot_mount='' base_dir=''
# shellcheck source=/dev/null
source <(sed -n '/^live_dir=/p;/^snapshot_dir=/p;/^base_dir=/p;/^sbdi_list_format=/p' "$capsule"
  sed -n '/^sbdi_tree_list() {$/,/^}$/p;/^sbdi_list_counts() {$/,/^}$/p;/^sbdi_list_counts_from() {$/,/^}$/p;/^sbdi_tree_changes() {$/,/^}$/p;/^sbdi_tree_compare() {$/,/^}$/p;/^source_create_snapshot() {$/,/^}$/p;/^source_keep_base() {$/,/^}$/p;/^source_drop_bases() {$/,/^}$/p;/^source_list_from_base() {$/,/^}$/p' "$capsule")
declare -F source_list_from_base >/dev/null || { echo "no source_list_from_base in ${capsule}"; exit 2; }
work=$(mktemp -d)
mkdir -p "$snapshot_mount" "${live_dir}/${skip}"
mount -o remount,strictatime "$live_dir"

set_changes() {
  local n=$1
  case $((n % 4)) in
    1) # A file of several names, one of them where no backup looks: the listing cannot hold all.
      mkdir "${live_dir}/set-$n" && echo "$n" >"${live_dir}/set-$n/f"
      ln "${live_dir}/set-$n/f" "${live_dir}/${skip}/f$n" ;;
    2) # Only the ctime moves (of a file made in an earlier round).
      find "$live_dir" -path "$snapshot_dir" -prune -o -path "$base_dir" -prune -o -path "${live_dir}/${skip}" -prune -o -type f -print0 -quit | xargs -0 -r chmod u+r ;;
    3) # Changed through its name where no backup looks: the name in the tree holds it too.
      for f in "${live_dir}/${skip}"/f*; do [ ! -f "$f" ] || echo "$n" >>"$f"; done
      # A file of two names, for the next round to move one with its directory.
      mkdir "${live_dir}/pair-$n" && echo "$n" >"${live_dir}/pair-$n/x" && ln "${live_dir}/pair-$n/x" "${live_dir}/pair-$n-x" ;;
    0) # The last round's pair: one name moves with its directory, the other stays as it was.
      mv "${live_dir}/pair-$((n - 1))" "${live_dir}/pair-$((n - 1))-moved"
      # Two directories swap their names; names like the ones btrfs send gives new entries
      # before their rename.
      mkdir -p "${live_dir}/set-$n/a/in" "${live_dir}/set-$n/b" && echo a >"${live_dir}/set-$n/a/in/x" && echo b >"${live_dir}/set-$n/b/y"
      mv "${live_dir}/set-$n/a" "${live_dir}/set-$n/t" && mv "${live_dir}/set-$n/b" "${live_dir}/set-$n/a" && mv "${live_dir}/set-$n/t" "${live_dir}/set-$n/b"
      echo "$n" >"${live_dir}/o257-$n-0" && mkdir "${live_dir}/o258-$n-0" ;;
  esac
}

prev='' from_base=0 relisted=''
for n in $(seq 1 "$rounds"); do
  python3 "$here/mutate.py" "$((seed * 1000 + n))" "$changes" "$live_dir" --exclude "${snapshot_dir##*/}" --exclude "${base_dir##*/}" --exclude "$skip" >"${work}/changes.$n"
  set_changes "$n"
  # Read everything: every inode's atime moves (strictatime), which btrfs send names and no listing records.
  find "$live_dir" -path "$snapshot_dir" -prune -o -path "$base_dir" -prune -o -type f -exec cat {} + >/dev/null
  source_create_snapshot
  mount --bind "$snapshot_dir" "$snapshot_mount"
  sbdi_tree_list "$snapshot_mount" >"${work}/walk.$n"
  # Every file is read each round, so btrfs names all of them: no limit on how many, so that the
  # listing from the base is what is tested. Every seventh round, the capsule's own limit (a
  # twentieth of the tree): the tree is walked instead.
  # shellcheck disable=SC2034 # read by source_list_from_base
  base_paths_floor=100000000
  # shellcheck disable=SC2034
  if [ $((n % 7)) -eq 0 ]; then base_paths_floor=5; fi
  if [ -n "$prev" ]; then
    if source_list_from_base "$prev" "${work}/walk.${prev}" "${work}/base.$n" 2>"${work}/err.$n"; then
      from_base=$((from_base + 1))
      if ! cmp -s "${work}/walk.$n" "${work}/base.$n"; then
        echo "DIFFERENT round ${n} (seed ${seed}): walk < > from the base"
        diff <(tr '\0' '\n' <"${work}/walk.$n") <(tr '\0' '\n' <"${work}/base.$n") | head -n 20
        sort -u "${work}/changes.$n" | head -n 40
        exit 1
      fi
      # What it says differs between the two listings (the push's comparison takes it instead of
      # comparing them whole) is what does.
      for d in "23 old-only" "13 new-only"; do
        if ! cmp -s <(comm -z "-${d%% *}" "${work}/walk.${prev}" "${work}/walk.$n") "${work}/base.$n.${d#* }"; then
          echo "DIFFERENT round ${n} (seed ${seed}): the records in the ${d#* } listing"
          diff <(comm -z "-${d%% *}" "${work}/walk.${prev}" "${work}/walk.$n" | tr '\0' '\n') <(tr '\0' '\n' <"${work}/base.$n.${d#* }") | head -n 20
          exit 1
        fi
      done
      # What btrfs had to name: the entries whose record changed, and their directories.
      expected=$(python3 - "${work}/walk.${prev}" "${work}/walk.$n" <<'PY'
import os, sys
a, b = (set(r for r in open(f, "rb").read().split(b"\0") if r) for f in sys.argv[1:3])
paths = {r.rpartition(b"\t")[0] for r in a ^ b}
for p in list(paths):
    while p:
        p = os.path.dirname(p)
        paths.add(p)
print(len(paths))
PY
)
      echo "FROM_BASE $n relisted=${relisted} expected=${expected} entries=$(tr -cd '\0' <"${work}/walk.$n" | wc -c)"
    else
      echo "WALKED $n: $(grep -v "^ " "${work}/err.$n" | tail -n 2 | tr "\n" " ")"
    fi
  fi
  source_keep_base "$n"
  source_drop_bases "$n"
  umount "$snapshot_mount"
  btrfs subvolume delete "$snapshot_dir" >/dev/null
  if [ -n "$prev" ]; then
    sbdi_tree_changes "${work}/walk.${prev}" "${work}/walk.$n" "${work}/main" "${work}/renewed" "${work}/dirs" "${work}/delta" "${work}/rules"
    sbdi_list_counts "${work}/walk.${prev}" >"${work}/counts.${prev}"
    from_delta=$(sbdi_list_counts_from "${work}/counts.${prev}" "${work}/delta" /nonexistent)
    whole=$(sbdi_list_counts "${work}/walk.$n")
    [ "$from_delta" = "$whole" ] || { echo "COUNTS round ${n} (seed ${seed}): ${from_delta} from the base's counts, ${whole} counted"; exit 1; }
    python3 - "${work}/walk.$n" "${work}/main" "${work}/renewed" <<'PY' || exit 1
import collections, sys
names = collections.defaultdict(set)
for r in open(sys.argv[1], "rb").read().split(b"\0"):
    if r:
        p, _, m = r.rpartition(b"\t")
        m = m.split(b" ")
        if m[0] == b"f" and int(m[2]) > 1:
            names[m[1]].add(p or b".")
lists = [set(p for p in open(f, "rb").read().split(b"\0") if p) for f in sys.argv[2:4]]
for group in names.values():
    for listed in lists:
        if group & listed and not group <= listed:
            print("NAMES apart: %r, listed %r" % (sorted(group), sorted(group & listed)))
            sys.exit(1)
PY
  fi
  rm -f "${work}/walk.${prev:-none}" "${work}/counts.${prev:-none}"
  prev=$n
done
# Mounted noatime, a walk for the limit is no matter for a warning.
mount -o remount,noatime "$live_dir"
mapfile -d '' -t files < <(find "$live_dir" -path "$snapshot_dir" -prune -o -path "$base_dir" -prune -o -type f -print0)
touch "${files[@]}"
source_create_snapshot
mount --bind "$snapshot_dir" "$snapshot_mount"
sbdi_tree_list "$snapshot_mount" >"${work}/walk.last"
# shellcheck disable=SC2034 # read by source_list_from_base
base_paths_floor=5
if source_list_from_base "$prev" "${work}/walk.last" "${work}/base.last" 2>"${work}/err.last" ||
  ! grep -q 'level=info msg=btrfs names too many paths' "${work}/err.last" || grep -q 'level=warn' "${work}/err.last"; then
  echo "NOATIME: the limit's walk on a noatime mount should be logged as info, with no warning"
  cat "${work}/err.last"
  exit 1
fi
umount "$snapshot_mount"
btrfs subvolume delete "$snapshot_dir" >/dev/null
echo "LISTINGS PASSED seed=${seed} rounds=${rounds} from_base=${from_base}"

#!/bin/bash
# Builds the fidelity tree every storage test backs up and restores: everything rsync and a
# backend can get wrong. Run as root (owners, trusted xattrs, device nodes).
#   make-tree.sh DIR [SEED]
# DIR must exist (a subvolume, a dataset's mount point or a plain directory) and be empty.
# Kept small (a few MB written) because zfs-fuse writes ~10 MB/s.
set -euo pipefail
export LC_ALL=C
dir=${1:?usage: make-tree.sh DIR [SEED]}
seed=${2:-1}
cd "$dir"

# Regular content: compressible text (for the compression ratio), random bytes, an empty file.
mkdir -p data/text data/random
for i in $(seq 1 40); do
  { for j in $(seq 1 400); do echo "line $j of file $i seed $seed: the quick brown fox jumps over the lazy dog"; done; } >"data/text/file-$i.txt"
done
head -c 1048576 /dev/urandom >data/random/blob.bin
head -c 4097 /dev/urandom >data/random/odd-size.bin
: >data/empty-file

# Hardlinks: a group of three across directories, one of them carrying an xattr, and a pair.
mkdir -p links/a links/b
echo "linked content $seed" >links/a/original
ln links/a/original links/b/second
ln links/a/original "links/third with space"
setfattr -n user.linked -v yes links/a/original
echo pair >links/pair-1
ln links/pair-1 links/pair-2

# Symlinks: relative, absolute, dangling, to a directory, with an odd target and odd name.
mkdir -p symlinks
ln -s ../data/text/file-1.txt symlinks/relative
ln -s /etc/hostname symlinks/absolute
ln -s does/not/exist symlinks/dangling
ln -s ../data symlinks/to-dir
ln -s $'target with\nnewline' symlinks/odd-target
ln -s relative $'symlinks/odd name \xff'

# A symlink that every walk meets before any xattr: zfs-fuse turns off xattrs for a whole
# read-only mount once a symlink's xattrs are listed on it (see docs/storage.md).
ln -s data/text "0-symlink-seen-first"

# Sparse files: holes in the middle, a file that is all hole, a hole at the end.
mkdir -p sparse
truncate -s 20M sparse/middle-holes
printf 'start' | dd of=sparse/middle-holes conv=notrunc status=none
printf 'middle' | dd of=sparse/middle-holes bs=1M seek=10 conv=notrunc status=none
printf 'end' | dd of=sparse/middle-holes bs=1 seek=$((20 * 1048576 - 3)) conv=notrunc status=none
truncate -s 8M sparse/all-hole
printf 'head' >sparse/tail-hole
truncate -s 5M sparse/tail-hole

# Extended attributes and ACLs.
mkdir -p meta/acl-dir/inherited
echo xattr >meta/xattr-file
setfattr -n user.x -v hello meta/xattr-file
setfattr -n user.binary -v 0x00ff10 meta/xattr-file
setfattr -n user.empty meta/xattr-file
setfattr -n trusted.sbdi -v root-only meta/xattr-file
setfattr -n user.dir -v on-a-dir meta/acl-dir
echo acl >meta/acl-file
setfacl -m u:1234:rwx,g:5678:r-- meta/acl-file
setfacl -m u:4321:r-x meta/acl-dir
setfacl -d -m u:1234:rwx,g:5678:r-x meta/acl-dir
echo inherits >meta/acl-dir/inherited/file
echo both >meta/acl-and-xattr
setfacl -m u:1234:rw meta/acl-and-xattr
setfattr -n user.both -v yes meta/acl-and-xattr

# Odd names: spaces, newline, tab, non-UTF-8 bytes, leading dash and space, quotes, glob characters,
# backslash, UTF-8, a 255-byte name.
mkdir -p names
for n in 'with space' $'with\nnewline' $'with\ttab' $'bytes \xff\xfe\x80' '-leading-dash' ' leading space' \
  'trailing space ' "quote'single" 'quote"double' 'glob*?[x]' 'back\slash' 'ünïcødé ✓' '$(not a command)' \
  "$(printf 'n%.0s' $(seq 1 255))"; do
  printf '%s\n' "$n" >"names/$n"
done
mkdir -p $'names/dir \xff with\nnewline'
echo inside >$'names/dir \xff with\nnewline/file'

# Deep paths: 60 levels of 40-byte names (a path of about 2.5 KB).
deep=deep
for i in $(seq 1 60); do deep="$deep/level-$(printf '%02d' "$i")-abcdefghijklmnopqrstuvwxyz012"; done
mkdir -p "$deep"
echo bottom >"$deep/bottom.txt"

# Empty directories, nested and alone.
mkdir -p empty/alone empty/nested/inner/innermost

# Modes: setuid, setgid, sticky, none at all, and owners by number only (no such users here).
mkdir -p modes/sticky modes/setgid-dir modes/private
echo suid >modes/setuid && chmod 4755 modes/setuid
echo sgid >modes/setgid && chmod 2750 modes/setgid
echo none >modes/no-perms && chmod 0000 modes/no-perms
chmod 1777 modes/sticky
chmod 2775 modes/setgid-dir
chmod 0700 modes/private
echo owned >modes/private/owned
chown 1234:5678 modes/setuid modes/private modes/private/owned
chmod 4755 modes/setuid # chown clears setuid
chown 70000:70001 modes/setgid-dir
chown -h 4321:8765 symlinks/relative
chown 1234:5678 links/a/original

# Special files: a fifo and a character device.
mkdir -p special
mkfifo special/fifo
mknod special/null c 1 3

# Times with nanoseconds on files, symlinks and, last of all, every directory (deepest first).
touch -h -d '@1234567890.123456789' data/text/file-1.txt symlinks/relative links/a/original
touch -h -d '@1500000000.5' modes/setuid
find . -depth -type d -print0 | xargs -0 touch -d '@1600000000.987654321'

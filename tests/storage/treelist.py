#!/usr/bin/python3
"""Canonical listing of a tree, content and metadata, one line per entry, sorted by path bytes.

    treelist.py [--no-holes] [--mtime-seconds] [--unmunge] [--exclude NAME]... DIR

Each line: path (bytes, escaped), type, mode, uid, gid, size, mtime in ns, link target,
hardlink group (first path of the inode's links inside the tree), xattrs (incl. the
system.posix_acl_* ones that hold ACLs, raw), sha256 of the content, and the data/hole map of
regular files (SEEK_DATA/SEEK_HOLE). Two trees are equal when their listings are equal.
Left out on purpose: atime, ctime, inode numbers, st_nlink (a store may add links outside the
tree) and st_blocks (compression changes it; the hole map says what is sparse).
--unmunge lists a symlink whose target starts with /rsyncd-munged/ (how the backup store keeps
symlinks: receive_backup runs rrsync -munge) as rsync --munge-links sends it back: without it.
--no-holes leaves out the hole map: for stores whose filesystem does not report holes (FUSE).
--mtime-seconds compares whole seconds: for trees that passed through zfs-fuse, which keeps no
nanoseconds (OpenZFS does).
"""
import errno
import hashlib
import os
import stat
import sys


def esc(b: bytes) -> str:
    out = []
    for c in b:
        if c == 0x5C:
            out.append("\\\\")
        elif 0x21 <= c < 0x7F:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


def holes(fd: int, size: int) -> str:
    segs = []
    pos = 0
    while pos < size:
        try:
            data = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:
            break  # ENXIO: only a hole is left
        end = os.lseek(fd, data, os.SEEK_HOLE)
        segs.append("%d-%d" % (data, end))
        pos = end
    return ",".join(segs) if segs else "hole"


def main() -> int:
    args = sys.argv[1:]
    with_holes = True
    mtime_seconds = False
    excludes = set()
    unmunge = False
    while args and args[0].startswith("--"):
        a = args.pop(0)
        if a == "--no-holes":
            with_holes = False
        elif a == "--mtime-seconds":
            mtime_seconds = True
        elif a == "--unmunge":
            unmunge = True
        elif a == "--exclude":
            excludes.add(os.fsencode(args.pop(0)))
        else:
            print("unknown option " + a, file=sys.stderr)
            return 2
    root = os.fsencode(args[0])
    entries = [b"."]
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == root:
            dirnames[:] = [d for d in dirnames if d not in excludes]
            filenames = [f for f in filenames if f not in excludes]
        for name in dirnames + filenames:
            entries.append(os.path.relpath(os.path.join(dirpath, name), root))
    entries.sort()
    inodes = {}
    for rel in entries:
        st = os.lstat(os.path.join(root, rel))
        if not stat.S_ISDIR(st.st_mode):
            inodes.setdefault((st.st_dev, st.st_ino), rel)
    for rel in entries:
        path = os.path.join(root, rel)
        st = os.lstat(path)
        mode = st.st_mode
        kind = {
            stat.S_IFDIR: "dir", stat.S_IFREG: "file", stat.S_IFLNK: "link", stat.S_IFIFO: "fifo",
            stat.S_IFCHR: "chr", stat.S_IFBLK: "blk", stat.S_IFSOCK: "sock",
        }[stat.S_IFMT(mode)]
        fields = [esc(rel), kind, "%04o" % stat.S_IMODE(mode), str(st.st_uid), str(st.st_gid)]
        target = os.readlink(path) if kind == "link" else b""
        if unmunge and target.startswith(b"/rsyncd-munged/"):
            target = target[len(b"/rsyncd-munged/"):]
        fields.append("size=%d" % (len(target) if kind == "link" else st.st_size if kind == "file" else 0))
        fields.append("mtime=%d" % (st.st_mtime_ns // 10**9 if mtime_seconds else st.st_mtime_ns))
        if kind == "link":
            fields.append("->" + esc(target))
        if kind in ("chr", "blk"):
            fields.append("rdev=%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)))
        if kind != "dir":
            first = inodes[(st.st_dev, st.st_ino)]
            if first != rel:
                fields.append("hardlink=" + esc(first))
        try:
            names = sorted(os.listxattr(path, follow_symlinks=False))
        except OSError as e:
            # zfs-fuse answers ENOTSUP for symlinks on a read-only clone: they hold none.
            names = [] if kind == "link" and e.errno == errno.EOPNOTSUPP else ["<listxattr failed>"]
        xs = []
        for n in names:
            try:
                xs.append("%s=%s" % (n, os.getxattr(path, n, follow_symlinks=False).hex()))
            except OSError as e:
                xs.append("%s=<%s>" % (n, e.strerror))
        if xs:
            fields.append("xattrs{" + ";".join(xs) + "}")
        if kind == "file":
            h = hashlib.sha256()
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                while True:
                    b = os.read(fd, 1 << 20)
                    if not b:
                        break
                    h.update(b)
                fields.append("sha256=" + h.hexdigest())
                if with_holes:
                    fields.append("data=" + holes(fd, st.st_size))
            finally:
                os.close(fd)
        print(" ".join(fields))
    return 0


if __name__ == "__main__":
    sys.exit(main())

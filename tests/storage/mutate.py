#!/usr/bin/python3
"""Random changes to a live tree, seeded: what a platform does to its data between two backups,
and the odd things too (renamed and replaced directories, hardlinks split by rename, ACLs, xattrs,
symlinks, old mtimes, files turned into directories and symlinks and back, names no shell likes).

    mutate.py SEED COUNT DIR [--exclude NAME]...

Never touches the excluded top-level names. Prints one line per change. Importable: Mutator(seed,
root, excluded).run(count) returns the names of the changes made (tests/torture/torture.py).
"""
import os
import random
import shutil
import subprocess
import sys

# Names: spaces, a tab, a newline, a leading dash, non-ASCII, bytes that are no UTF-8, a dot file,
# rsync pattern characters (*, ?, [, a backslash),
# a long one. Bytes throughout (os.fsencode), so the non-UTF-8 ones survive.
NAMES = [b"a", b"b", b"c", b"data", b"log", b"x y", b"tab\tname", b"nl\nname", "\u00fc".encode(), b"-dash", b"--x",
         b".hidden", b"long" * 30, b"bad\xff\xfe", b"sp ace ", b"st*r", b"q?[x]", b"b\\*ck", b"back\\slash"]

OPS = ["create", "create", "rewrite", "rewrite", "append", "truncate", "delete", "mkdir", "rmtree", "rename", "rename",
       "rename-dir", "replace", "chmod", "chown", "xattr", "acl", "hardlink", "hardlink", "replace-linked",
       "replace-linked", "unlink-linked", "symlink", "retarget", "file-to-dir", "dir-to-file", "file-to-symlink",
       "symlink-to-file", "old-mtime", "same-size-old-mtime", "sparse", "empty", "deep", "many-small", "large"]


class Mutator:
    def __init__(self, seed, root, excluded=()):
        self.rng = random.Random(seed)
        self.root = os.fsencode(root)
        self.excluded = {os.fsencode(x) for x in excluded}

    def entries(self):
        root = self.root
        dirs, files = [root], []
        for d, ds, fs in os.walk(root):
            if d == root:
                ds[:] = [x for x in ds if x not in self.excluded]
                fs = [x for x in fs if x not in self.excluded]
            dirs += [os.path.join(d, x) for x in ds if not os.path.islink(os.path.join(d, x))]
            files += [os.path.join(d, x) for x in fs] + [os.path.join(d, x) for x in ds if os.path.islink(os.path.join(d, x))]
        # Sorted: a directory's order is the filesystem's, and the same seed must make the same
        # changes on every filesystem and every run.
        return sorted(dirs), sorted(files)

    def fresh(self, d):
        for _ in range(20):
            p = os.path.join(d, self.rng.choice(NAMES) + str(self.rng.randrange(1000)).encode())
            if not os.path.lexists(p):
                return p
        return os.path.join(d, b"f%d" % self.rng.randrange(10**9))

    def text(self, n):
        return bytes(self.rng.choice(b"abcdefghij \n") for _ in range(n))

    def regular(self, f):
        return f is not None and os.path.isfile(f) and not os.path.islink(f)

    def op(self, name):
        rng = self.rng
        dirs, files = self.entries()
        d, f = rng.choice(dirs), (rng.choice(files) if files else None)
        regular = self.regular(f)
        linked = [x for x in files if self.regular(x) and os.stat(x).st_nlink > 1]
        if name == "create":
            open(self.fresh(d), "wb").write(self.text(rng.randrange(0, 5000)))
        elif name == "rewrite" and regular:
            size = os.path.getsize(f)
            with open(f, "r+b") as h:
                h.seek(rng.randrange(size) if size else 0)
                h.write(self.text(rng.randrange(1, 200)))
        elif name == "append" and regular:
            with open(f, "ab") as h:
                h.write(self.text(rng.randrange(1, 300)))
        elif name == "truncate" and regular:
            os.truncate(f, rng.randrange(os.path.getsize(f) + 1))
        elif name == "delete" and f:
            os.unlink(f)
        elif name == "mkdir":
            p = self.fresh(d)
            os.mkdir(p)
            for _ in range(rng.randrange(4)):
                open(self.fresh(p), "wb").write(self.text(100))
        elif name == "rmtree" and d != self.root:
            shutil.rmtree(d)
        elif name == "rename" and f:
            os.rename(f, self.fresh(rng.choice(dirs)))
        elif name == "rename-dir" and d != self.root:
            target = rng.choice(dirs)
            if not (target + b"/").startswith(d + b"/"):
                os.rename(d, self.fresh(target))
        elif name == "replace" and regular:
            # A new file renamed over an old one, as every atomic writer does.
            # Beside it, under a name that fits whatever the old one's length (255 bytes at most).
            tmp = os.path.join(os.path.dirname(f), b".replacing")
            open(tmp, "wb").write(self.text(rng.randrange(0, 3000)))
            os.rename(tmp, f)
        elif name == "chmod" and regular:
            os.chmod(f, rng.choice([0o600, 0o640, 0o755, 0o444, 0o4755, 0o2750, 0o1777]))
        elif name == "chown" and f:
            os.lchown(f, rng.randrange(1000, 1010), rng.randrange(1000, 1010))
        elif name == "xattr" and regular:
            if rng.random() < 0.3 and os.listxattr(f):
                os.removexattr(f, rng.choice(os.listxattr(f)))
            else:
                os.setxattr(f, "user.k%d" % rng.randrange(3), self.text(rng.randrange(0, 40)))
        elif name == "acl" and regular:
            if rng.random() < 0.3:
                subprocess.run(["setfacl", "-b", f], check=True)
            else:
                subprocess.run(["setfacl", "-m", "u:%d:%s" % (rng.randrange(2000, 2005), rng.choice(["r", "rw", "rwx", "-"])), f], check=True)
        elif name == "hardlink" and regular:
            os.link(f, self.fresh(rng.choice(dirs)))
        elif name == "replace-linked":
            # One name of a file that has several replaced by rename, as editors and package
            # managers do; then, as often, another name changed in place.
            if not linked:
                return False
            g = rng.choice(linked)
            tmp = os.path.join(os.path.dirname(g), b".replacing")
            open(tmp, "wb").write(self.text(rng.randrange(0, 300)))
            os.rename(tmp, g)
            others = [x for x in linked if x != g and os.path.exists(x)]
            if others and rng.random() < 0.5:
                with open(rng.choice(others), "ab") as h:
                    h.write(self.text(rng.randrange(1, 50)))
        elif name == "unlink-linked":
            if not linked:
                return False
            os.unlink(rng.choice(linked))
        elif name == "symlink":
            os.symlink(rng.choice([b"../a", b"data/x", b"/etc/hostname", b"nowhere", b"-dash", b"x y/\xff"]), self.fresh(d))
        elif name == "retarget" and f and os.path.islink(f):
            os.unlink(f)
            os.symlink(rng.choice([b"b", b"c/d", b"/tmp", b"../../.."]), f)
        elif name == "file-to-dir" and regular:
            os.unlink(f)
            os.mkdir(f)
            open(os.path.join(f, b"inside"), "wb").write(b"now a directory")
        elif name == "dir-to-file" and d != self.root:
            shutil.rmtree(d)
            open(d, "wb").write(b"now a file")
        elif name == "file-to-symlink" and regular:
            os.unlink(f)
            os.symlink(b"turned-into-a-link", f)
        elif name == "symlink-to-file" and f and os.path.islink(f):
            os.unlink(f)
            open(f, "wb").write(b"was a symlink")
        elif name == "old-mtime" and f:
            os.utime(f, (1_500_000_000, rng.randrange(1_000_000_000, 1_600_000_000)), follow_symlinks=False)
        elif name == "same-size-old-mtime" and regular and os.path.getsize(f) > 0:
            # New content of the same size, then the old mtime put back (tar, cp -p, some
            # databases): only the ctime says the file changed.
            st = os.stat(f)
            with open(f, "r+b") as h:
                h.seek(rng.randrange(st.st_size))
                h.write(bytes([rng.randrange(256)]))
            os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
        elif name == "sparse":
            with open(self.fresh(d), "wb") as h:
                h.seek(rng.randrange(1, 4) * 1024 * 1024)
                h.write(b"end")
        elif name == "empty":
            p = self.fresh(d)
            if rng.random() < 0.5:
                open(p, "wb").close()
            else:
                os.mkdir(p)
        elif name == "deep":
            p = d
            for _ in range(rng.randrange(5, 25)):
                p = os.path.join(p, rng.choice(NAMES)[:8] or b"d")
            try:
                os.makedirs(p, exist_ok=True)
                open(os.path.join(p, b"leaf"), "wb").write(self.text(50))
            except (NotADirectoryError, FileExistsError, IsADirectoryError):
                return False  # a file (or a directory) already has one of those names
        elif name == "many-small":
            p = self.fresh(d)
            os.mkdir(p)
            for i in range(rng.randrange(20, 200)):
                open(os.path.join(p, b"s%d" % i), "wb").write(self.text(rng.randrange(0, 64)))
        elif name == "large":
            with open(self.fresh(d), "wb") as h:
                h.write(os.urandom(rng.randrange(1, 4) * 1024 * 1024))
        else:
            return False
        return True

    def run(self, count, ops=OPS):
        done = []
        while len(done) < count:
            name = self.rng.choice(ops)
            if self.op(name):
                done.append(name)
        return done


if __name__ == "__main__":
    seed, count, root = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    excluded = [sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a == "--exclude"]
    for change in Mutator(seed, root, excluded).run(count):
        print(change)

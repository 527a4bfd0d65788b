#!/usr/bin/python3
"""Random changes to a live tree, seeded: what a platform does to its data between two backups,
and the odd things too (renamed and replaced directories, hardlinks, ACLs, xattrs, symlinks,
old mtimes, files turned into directories and back).

    mutate.py SEED COUNT DIR [--exclude NAME]

Never touches the excluded top-level names. Prints one line per change.
"""
import os
import random
import shutil
import subprocess
import sys

seed, count, root = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
excluded = set(sys.argv[sys.argv.index("--exclude") + 1:sys.argv.index("--exclude") + 2]) if "--exclude" in sys.argv else set()
rng = random.Random(seed)
NAMES = ["a", "b", "c", "data", "log", "x y", "tab\tname", "nl\nname", "ü", "-dash", ".hidden", "long" * 30]


def entries():
    dirs, files = [root], []
    for d, ds, fs in os.walk(root):
        if d == root:
            ds[:] = [x for x in ds if x not in excluded]
            fs = [x for x in fs if x not in excluded]
        dirs += [os.path.join(d, x) for x in ds if not os.path.islink(os.path.join(d, x))]
        files += [os.path.join(d, x) for x in fs] + [os.path.join(d, x) for x in ds if os.path.islink(os.path.join(d, x))]
    return dirs, files


def fresh(d):
    for _ in range(20):
        p = os.path.join(d, rng.choice(NAMES) + str(rng.randrange(1000)))
        if not os.path.lexists(p):
            return p
    return os.path.join(d, "f%d" % rng.randrange(10**9))


def text(n):
    return "".join(rng.choice("abcdefghij \n") for _ in range(n)).encode()


def op(name):
    dirs, files = entries()
    d, f = rng.choice(dirs), (rng.choice(files) if files else None)
    regular = f is not None and os.path.isfile(f) and not os.path.islink(f)
    if name == "create":
        p = fresh(d)
        open(p, "wb").write(text(rng.randrange(0, 5000)))
    elif name == "rewrite" and regular:
        size = os.path.getsize(f)
        with open(f, "r+b") as h:
            h.seek(rng.randrange(size) if size else 0)
            h.write(text(rng.randrange(1, 200)))
    elif name == "delete" and f:
        os.unlink(f)
    elif name == "mkdir":
        p = fresh(d)
        os.mkdir(p)
        for _ in range(rng.randrange(4)):
            open(fresh(p), "wb").write(text(100))
    elif name == "rmtree" and d != root:
        shutil.rmtree(d)
    elif name == "rename" and f:
        os.rename(f, fresh(rng.choice(dirs)))
    elif name == "rename-dir" and d != root:
        target = rng.choice(dirs)
        if not (target + "/").startswith(d + "/"):
            os.rename(d, fresh(target))
    elif name == "chmod" and regular:
        os.chmod(f, rng.choice([0o600, 0o640, 0o755, 0o444, 0o4755]))
    elif name == "chown" and f:
        os.lchown(f, rng.randrange(1000, 1010), rng.randrange(1000, 1010))
    elif name == "xattr" and regular:
        os.setxattr(f, "user.k%d" % rng.randrange(3), text(10))
    elif name == "acl" and regular:
        subprocess.run(["setfacl", "-m", "u:%d:%s" % (rng.randrange(2000, 2005), rng.choice(["r", "rw", "rwx"])), f], check=True)
    elif name == "hardlink" and regular:
        os.link(f, fresh(rng.choice(dirs)))
    elif name == "replace-linked":
        # One name of a file that has several replaced by rename, as editors and package managers
        # do; then, as often, the file's other names changed in place.
        linked = [x for x in files if os.path.isfile(x) and not os.path.islink(x) and os.stat(x).st_nlink > 1]
        if not linked:
            return False
        g = rng.choice(linked)
        tmp = g + ".replacing"
        open(tmp, "wb").write(text(rng.randrange(0, 300)))
        os.rename(tmp, g)
        others = [x for x in linked if x != g]
        if others and rng.random() < 0.5:
            with open(rng.choice(others), "ab") as h:
                h.write(text(rng.randrange(1, 50)))
    elif name == "symlink":
        p = fresh(d)
        os.symlink(rng.choice(["../a", "data/x", "/etc/hostname", "nowhere"]), p)
    elif name == "retarget" and f and os.path.islink(f):
        os.unlink(f)
        os.symlink(rng.choice(["b", "c/d", "/tmp"]), f)
    elif name == "file-to-dir" and regular:
        os.unlink(f)
        os.mkdir(f)
        open(os.path.join(f, "inside"), "wb").write(b"now a directory")
    elif name == "dir-to-file" and d != root:
        shutil.rmtree(d)
        open(d, "wb").write(b"now a file")
    elif name == "old-mtime" and f:
        os.utime(f, (1_500_000_000, rng.randrange(1_000_000_000, 1_600_000_000)), follow_symlinks=False)
    elif name == "sparse":
        p = fresh(d)
        with open(p, "wb") as h:
            h.seek(rng.randrange(1, 4) * 1024 * 1024)
            h.write(b"end")
    else:
        return False
    return True


OPS = ["create", "create", "rewrite", "rewrite", "delete", "mkdir", "rmtree", "rename", "rename-dir", "chmod", "chown",
       "xattr", "acl", "hardlink", "hardlink", "replace-linked", "replace-linked", "symlink", "retarget", "file-to-dir", "dir-to-file", "old-mtime", "sparse"]
done = 0
while done < count:
    name = rng.choice(OPS)
    if op(name):
        done += 1
        print(name)

#!/usr/bin/python3
"""Seeded, model-based differential torture of the backup data path, on real filesystems.

Runs inside a storage test container (tests/storage/harness.ts: one host that is source and target,
the rendered capsules installed, reached over ssh, sudo and rrsync as between two hosts):

    torture.py --seed S --rounds N --ops K --live DIR --tree TREE [--listing-flag F]... [--exclude NAME]

Each round makes K random changes to the live tree (tests/storage/mutate.py: rewrites, appends,
truncations, renames, files replaced by rename, hardlinks split by rename, symlinks, type changes,
modes, owners, ACLs, xattrs, old mtimes with the same size, sparse, deep, empty, many small and a
few large files, names with spaces, newlines, dashes and bytes that are no UTF-8), records the
tree's exact state (tests/storage/treelist.py: type, mode, owner, size, mtime, content hash,
hardlink groups, symlink targets, xattrs, ACLs) and takes a backup the way the director does,
alternating pushes of only the changes, full scans and a backup that is never committed. Some
rounds wait a second before the snapshot, most do not (changes within the same second as a
snapshot). At the end every committed backup is restored whole into the emptied live dir, and a
random directory of it alone, and compared with the state recorded for it; verify_backup checks
it too. The first divergence is printed with its random seed, the round and its changes, and the
command that runs the same again; exit 1.
"""
import argparse
import glob
import json
import os
import random
import shutil
import subprocess
import sys
import time

sys.path.insert(0, "/tmp/storage")
from mutate import Mutator  # noqa: E402

L = "/opt/sbdi/backup/libexec"
# Where a btrfs source's snapshot is mounted while it is pushed (the plan's default).
SNAPSHOT_MOUNT = "/btrfs_backupsource"


class Divergence(Exception):
    pass


def capsule(name, *argv, stdin=""):
    p = subprocess.run([os.path.join(L, name), *argv], input=stdin.encode(), capture_output=True)
    with open("/tmp/torture.log", "ab") as log:
        log.write(b"$ %s %s\n" % (name.encode(), " ".join(argv).encode()) + p.stderr)
    out = p.stdout.decode(errors="replace")
    at = out.rfind("SBDI-RESULT ")
    result = json.loads(out[at + 12:].splitlines()[0]) if at >= 0 else {"ok": False}
    if p.returncode != 0 or not result.get("ok"):
        err = p.stderr.decode(errors="replace")[-3000:]
        raise Divergence("capsule %s %s failed (exit %d): %s\n%s" % (name, " ".join(argv), p.returncode, result.get("error", out[-500:]), err))
    return result


def listing(flags, path):
    p = subprocess.run(["python3", "/tmp/storage/treelist.py", *flags, path], capture_output=True)
    if p.returncode != 0:
        raise Divergence("treelist %s: %s" % (path, p.stderr.decode(errors="replace")))
    return p.stdout.decode(errors="replace")


def drop_minimal_acls(root):
    """An access ACL of only the owner, group and other entries says what the mode says: a kernel
    filesystem keeps none (setfacl -b removes it), zfs-fuse keeps the xattr, and rsync sends it as
    the mode. Such xattrs are removed, so the tree reads as a kernel filesystem's would."""
    name = "system.posix_acl_access"
    for d, dirs, files in os.walk(os.fsencode(root)):
        for x in dirs + files:
            p = os.path.join(d, x)
            if os.path.islink(p):
                continue
            try:
                v = os.getxattr(p, name, follow_symlinks=False)
            except OSError:
                continue
            tags = {int.from_bytes(v[i:i + 2], "little") for i in range(4, len(v), 8)}
            if tags <= {0x01, 0x04, 0x20}:
                os.removexattr(p, name, follow_symlinks=False)


def first_difference(want, got):
    a, b = want.splitlines(), got.splitlines()
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else "<nothing>"
        y = b[i] if i < len(b) else "<nothing>"
        if x != y:
            return "line %d\n  recorded: %s\n  restored: %s" % (i + 1, x[:600], y[:600])
    return ""


def walked(mount, excludes):
    """A listing of the mounted snapshot as perform_rsync's walk makes it (source/changes, its
    sbdi_list_format read from the installed capsule), sorted."""
    with open(os.path.join(L, "perform_rsync")) as f:
        fmt = next(line.split("'")[1] for line in f if line.startswith("sbdi_list_format='"))
    prune = sum((["-path", os.path.join(mount, x), "-prune", "-o"] for x in excludes), [])
    out = subprocess.run(["find", mount, *prune, "-printf", "%P\\t" + fmt + "\\0"], capture_output=True, check=True).stdout
    return sorted(r for r in out.split(b"\0") if r)


def empty_dir(path, keep):
    for name in os.listdir(path):
        if name in keep:
            continue
        p = os.path.join(path, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)


def subtree(state, rng):
    """A directory of the recorded state whose path a partial restore accepts, or None."""
    ok = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    dirs = []
    for line in state.splitlines():
        path, kind = line.split(" ", 2)[:2]
        parts = path.split("/")
        # The selector rule: no '.' or '..' part, none starting with '-' (an option to the tools).
        if kind == "dir" and path != "." and all(c in ok for c in path.replace("/", "")) and not any(c in (".", "..") or c.startswith("-") for c in parts):
            dirs.append(path)
    return rng.choice(sorted(dirs)) if dirs else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--ops", type=int, default=25)
    ap.add_argument("--live", required=True)
    ap.add_argument("--tree", required=True)
    ap.add_argument("--listing-flag", action="append", default=[])
    ap.add_argument("--exclude", action="append", default=[])
    ap.add_argument("--kernel-acl-modes", action="store_true",
                    help="after each round's changes, give every file with an ACL the permission bits a kernel filesystem would")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    mutator = Mutator(a.seed, a.live, a.exclude)
    flags = a.listing_flag + sum((["--exclude", x] for x in a.exclude), [])
    states, history, committed = {}, [], []
    from_base = 0
    where = "setup"
    try:
        capsule("sbdi-target-setup")
        t0 = int(time.time())
        for n in range(1, a.rounds + 1):
            where = "round %d" % n
            changes = mutator.run(rng.randrange(1, a.ops + 1))
            if a.kernel_acl_modes:
                # zfs-fuse keeps an ACL's mask and the group bits apart (a chmod leaves the ACL, a
                # setfacl leaves the bits); every kernel filesystem keeps them one, and rsync carries
                # the mask as the group bits. The live tree is made what a kernel filesystem would
                # hold, with the capsules' own function for it (docs/storage.md, zfs-fuse).
                subprocess.run(["bash", "-c", 'source <(sed -n "/^sbdi_acl_\\(list\\|modes\\)() {$/,/^}$/p" %s/restore_source); sbdi_acl_list "$1" | sbdi_acl_modes "$1" >/dev/null' % L, "-", a.live], check=True)
                drop_minimal_acls(a.live)
            if rng.random() < 0.3:
                time.sleep(1.1)
            # One id a round, one second apart, after any left by an earlier run.
            ident = time.strftime("%Y%m%d_%H%M%S", time.gmtime(t0 + n))
            mode = "full" if n == 1 or rng.random() < 0.25 else "changes"
            uncommitted = n > 2 and rng.random() < 0.1
            history.append((n, ident, mode, uncommitted, changes))
            state = listing(flags, a.live)
            prepared = capsule("prepare_target", stdin=(a.tree + "\n") if mode == "full" else "")
            base = prepared.get("base") if mode == "changes" else None
            linked = prepared.get("linked", {}).get(a.tree)
            capsule("prepare_source_snapshot")
            lines = "%s %s\n" % (base or "-", ident) + ("linked %s\n" % linked if linked is not None else "")
            pushed = capsule("perform_rsync", stdin=lines)
            if pushed.get("listedFromBase"):
                # The listing made from btrfs's changes since the base must be the one a walk of
                # the snapshot gives, record for record.
                from_base += 1
                kept = glob.glob("/var/lib/sbdi-backup/changes/*/%s.%s" % (glob.escape(a.tree), ident))
                with open(kept[0], "rb") as f:
                    derived = [r for r in f.read().split(b"\0") if r]
                diff = first_difference("\n".join(map(repr, walked(SNAPSHOT_MOUNT, a.exclude))), "\n".join(map(repr, derived)))
                if diff:
                    raise Divergence("the listing made from the base differs from a walk of the snapshot: %s" % diff)
            if uncommitted:
                capsule("remove_source_snapshot")
                print("ROUND %d %s %s %s uncommitted: %s" % (n, ident, mode, pushed.get("scan"), ",".join(changes)), flush=True)
                continue
            capsule("commit_backup", ident, stdin=json.dumps({"id": ident, "status": "complete", "sources": []}))
            capsule("remove_source_snapshot")
            states[ident] = state
            committed.append(ident)
            print("ROUND %d %s %s %s: %s" % (n, ident, mode, pushed.get("scan"), ",".join(changes)), flush=True)
        for ident in committed:
            where = "restore of %s" % ident
            capsule("activate_backup", ident)
            try:
                empty_dir(a.live, set(a.exclude))
                capsule("restore_source")
                got = listing(flags, a.live)
                diff = first_difference(states[ident], got)
                if diff:
                    raise Divergence("the restore of %s differs from the tree it was taken of: %s" % (ident, diff))
                path = subtree(states[ident], rng)
                if path is not None:
                    # The directory alone: its parent's mtime is the parent's own business (a
                    # partial restore puts back what it was before), and hardlinks to names
                    # outside it are not kept (each side keeps its own).
                    where = "partial restore of %s:%s" % (ident, path)
                    whole = listing(flags, os.path.join(a.live, path))
                    shutil.rmtree(os.path.join(a.live, path))
                    capsule("restore_source", path)
                    diff = first_difference(whole, listing(flags, os.path.join(a.live, path)))
                    if diff:
                        raise Divergence("the partial restore of %s (%s) differs from the whole one: %s" % (ident, path, diff))
            finally:
                capsule("deactivate_backup")
            where = "verify of %s" % ident
            capsule("verify_backup", ident)
            print("CHECKED %s" % ident, flush=True)
    except Divergence as e:
        print("DIVERGED at %s (seed %d): %s" % (where, a.seed, e), flush=True)
        for n, ident, mode, uncommitted, changes in history[-3:]:
            print("  round %d (%s, %s%s): %s" % (n, ident, mode, ", uncommitted" if uncommitted else "", ", ".join(changes)), flush=True)
        print("again: npm run torture -- --seed %d --rounds %d --ops %d --backends <this pair>" % (a.seed, a.rounds, a.ops), flush=True)
        sys.exit(1)
    print("TORTURE PASSED seed=%d rounds=%d committed=%d changes=%d from_base=%d" % (a.seed, a.rounds, len(committed), sum(len(h[4]) for h in history), from_base), flush=True)


if __name__ == "__main__":
    main()

import type { HostSpec, Names } from './config';
import { dockerBash } from './exec';

/** Directory (under each source's live dir) holding the seeded tree. */
export const SEED_DIR = 'seed';

/**
 * A small tree with the cases a restore must keep: nested and empty directories, a name with spaces,
 * a hardlink, a symlink, a sparse file, odd owner/mode, an ACL and an xattr.
 */
export function seedScript(dir: string, o: { acl?: boolean } = {}): string {
  const d = `${dir}/${SEED_DIR}`;
  // A filesystem mounted without ACL support (a Gluster FUSE mount without -o acl) gets none.
  const acl = (o.acl ?? true) ? `setfacl -m u:1234:rw "$d/data/acl.txt"\n` : '';
  return `
d='${d}'
mkdir -p "$d/config/conf.d" "$d/data/2024" "$d/empty dir" "$d/dir with spaces"
printf 'host=%s\\nport=8080\\n' "$(hostname)" > "$d/config/app.conf"
printf 'log_level=info\\n' > "$d/config/conf.d/10-log.conf"
for i in $(seq 1 20); do printf 'record %s of %s\\n' "$i" "$(hostname)" > "$d/data/2024/record-$i.txt"; done
printf 'a file with spaces in its name\\n' > "$d/dir with spaces/file with spaces.txt"
head -c 262144 /dev/urandom > "$d/data/blob.bin"
ln "$d/data/blob.bin" "$d/data/blob.hardlink"
ln -s ../config/app.conf "$d/data/app.conf.symlink"
truncate -s 8M "$d/data/sparse.img"
printf 'x' | dd of="$d/data/sparse.img" bs=1 seek=4194304 conv=notrunc status=none
printf 'owned by 1234\\n' > "$d/data/owned.txt"
chown 1234:1234 "$d/data/owned.txt"
chmod 0640 "$d/data/owned.txt"
printf 'acl\\n' > "$d/data/acl.txt"
${acl}setfattr -n user.sbdi.seed -v "$(hostname)" "$d/data/acl.txt"
touch -d '2020-01-02 03:04:05' "$d/config/app.conf"
`;
}

export async function seedSource(n: Names, spec: HostSpec): Promise<void> {
  if (spec.sourceDir === undefined) return;
  await dockerBash('create', spec.name, n.container(spec.name), seedScript(spec.sourceDir));
}

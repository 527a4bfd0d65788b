// The checkout as the Ansible collection sbdi.backup: .cache/collections/ansible_collections/sbdi/backup
// is a symlink to the repository root, and ansible.cfg puts .cache/collections first on the
// collections path, so `ansible-playbook playbooks/backup.yml` run from the checkout finds its roles
// by their full names (sbdi.backup.<role>) without installing anything.
import { lstatSync, mkdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const COLLECTION_LINK = join(ROOT, '.cache', 'collections', 'ansible_collections', 'sbdi', 'backup');
// Relative, so the link stays right when the checkout is moved or mounted elsewhere.
const TARGET = '../../../..';

export function linkCollection() {
  let current;
  try {
    current = lstatSync(COLLECTION_LINK).isSymbolicLink() ? readlinkSync(COLLECTION_LINK) : null;
  } catch {
    current = undefined;
  }
  if (current === TARGET) return;
  if (current !== undefined) rmSync(COLLECTION_LINK, { recursive: true, force: true });
  mkdirSync(dirname(COLLECTION_LINK), { recursive: true });
  symlinkSync(TARGET, COLLECTION_LINK);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) linkCollection();

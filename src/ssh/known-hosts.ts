/**
 * A small reader of OpenSSH's known_hosts, enough to verify host keys fail-closed:
 * plain names, `[name]:port`, comma lists, `*`/`?` wildcards, `!` negations, hashed
 * `|1|salt|hash` entries, and the `@revoked` marker. `@cert-authority` lines are skipped:
 * we do not accept host certificates, so such a line can never make a host trusted.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Key types we accept. ssh-dss and certificates are deliberately absent. */
export const KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export type HostMatcher =
  | { kind: 'patterns'; patterns: string[] }
  | { kind: 'hashed'; salt: Buffer; hash: Buffer };

export interface KnownHostEntry {
  line: number;
  revoked: boolean;
  hosts: HostMatcher;
  keyType: KeyType;
  /** The public key blob as sent by the server during key exchange. */
  key: Buffer;
}

/** Parses known_hosts text. Lines it cannot use are skipped (never trusted), not fatal. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let revoked = false;
    if (fields[0]?.startsWith('@')) {
      const marker = fields.shift();
      if (marker === '@revoked') revoked = true;
      else return; // @cert-authority or unknown marker: never trusts anything here
    }
    const [hostField, keyType, keyB64] = fields;
    if (hostField === undefined || keyType === undefined || keyB64 === undefined) return;
    if (!(KEY_TYPES as readonly string[]).includes(keyType)) return;
    const key = Buffer.from(keyB64, 'base64');
    // The blob starts with its own type name; a mismatch means a corrupt or forged line.
    if (blobType(key) !== keyType) return;
    const hosts = parseHostField(hostField);
    if (hosts === undefined) return;
    entries.push({ line: index + 1, revoked, hosts, keyType: keyType as KeyType, key });
  });
  return entries;
}

function parseHostField(field: string): HostMatcher | undefined {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return undefined;
    return { kind: 'hashed', salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
  }
  return { kind: 'patterns', patterns: field.split(',').filter((p) => p !== '') };
}

/** The SSH wire string at the start of a key blob (uint32 length + name). */
export function blobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || blob.length < 4 + len) return undefined;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** How known_hosts names a host: the bare name on port 22, `[name]:port` otherwise. */
export function lookupName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

export function entryMatches(entry: KnownHostEntry, host: string, port: number): boolean {
  const name = lookupName(host, port);
  if (entry.hosts.kind === 'hashed') {
    const digest = createHmac('sha1', entry.hosts.salt).update(name).digest();
    return digest.length === entry.hosts.hash.length && timingSafeEqual(digest, entry.hosts.hash);
  }
  let matched = false;
  for (const pattern of entry.hosts.patterns) {
    const negated = pattern.startsWith('!');
    const re = globToRegExp(negated ? pattern.slice(1) : pattern);
    if (re.test(name)) {
      if (negated) return false; // a matching negation excludes the host from the whole line
      matched = true;
    }
  }
  return matched;
}

export interface HostKeys {
  trusted: KnownHostEntry[];
  revoked: KnownHostEntry[];
}

export function keysFor(entries: KnownHostEntry[], host: string, port: number): HostKeys {
  return {
    trusted: entries.filter((e) => !e.revoked && entryMatches(e, host, port)),
    // A revoked key is refused whatever host it was listed for (OpenSSH does the same).
    revoked: entries.filter((e) => e.revoked),
  };
}

/** Host key algorithms to offer, so the server presents a key type we actually know for it. */
export function hostKeyAlgorithms(keys: HostKeys): string[] {
  const algos: string[] = [];
  for (const type of KEY_TYPES) {
    if (!keys.trusted.some((e) => e.keyType === type)) continue;
    if (type === 'ssh-rsa') algos.push('rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa');
    else algos.push(type);
  }
  return algos;
}

export type VerifyOutcome = 'trusted' | 'unknown' | 'mismatch' | 'revoked';

/** Decides about the key a server presented. Anything but an exact listed key is refused. */
export function verifyHostKey(keys: HostKeys, presented: Buffer): VerifyOutcome {
  if (keys.revoked.some((e) => e.key.equals(presented))) return 'revoked';
  if (keys.trusted.some((e) => e.key.equals(presented))) return 'trusted';
  return keys.trusted.length === 0 ? 'unknown' : 'mismatch';
}

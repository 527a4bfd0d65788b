import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { blobType, hostKeyAlgorithms, keysFor, lookupName, parseKnownHosts, verifyHostKey } from '../../../src/ssh';

/** A syntactically valid key blob of a given type (content is irrelevant to matching). */
function blob(type: string, filler: string): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  return Buffer.concat([len, t, Buffer.from(filler)]);
}
const ED_A = blob('ssh-ed25519', 'aaaa');
const ED_B = blob('ssh-ed25519', 'bbbb');
const RSA = blob('ssh-rsa', 'rrrr');
const ECDSA = blob('ecdsa-sha2-nistp256', 'eeee');
const b64 = (b: Buffer) => b.toString('base64');

function hashed(name: string, salt = Buffer.from('0123456789abcdef0123')): string {
  const h = createHmac('sha1', salt).update(name).digest();
  return `|1|${salt.toString('base64')}|${h.toString('base64')}`;
}

describe('known_hosts parsing', () => {
  it('reads plain, bracketed, comma and hashed host fields', () => {
    const text = [
      '# comment',
      '',
      `target,10.0.0.5 ssh-ed25519 ${b64(ED_A)} root@target`,
      `[manager-1]:2222 ssh-rsa ${b64(RSA)}`,
      `${hashed('cassandra-1')} ecdsa-sha2-nistp256 ${b64(ECDSA)}`,
      `${hashed('[solr-1]:2200')} ssh-ed25519 ${b64(ED_B)}`,
    ].join('\n');
    const entries = parseKnownHosts(text);
    expect(entries).toHaveLength(4);
    expect(keysFor(entries, 'target', 22).trusted.map((e) => e.keyType)).toEqual(['ssh-ed25519']);
    expect(keysFor(entries, '10.0.0.5', 22).trusted).toHaveLength(1);
    expect(keysFor(entries, 'target', 2222).trusted).toHaveLength(0);
    expect(keysFor(entries, 'manager-1', 2222).trusted.map((e) => e.keyType)).toEqual(['ssh-rsa']);
    expect(keysFor(entries, 'manager-1', 22).trusted).toHaveLength(0);
    expect(keysFor(entries, 'cassandra-1', 22).trusted.map((e) => e.keyType)).toEqual(['ecdsa-sha2-nistp256']);
    expect(keysFor(entries, 'solr-1', 2200).trusted[0]?.key.equals(ED_B)).toBe(true);
    expect(keysFor(entries, 'solr-1', 22).trusted).toHaveLength(0);
    expect(keysFor(entries, 'other', 22).trusted).toHaveLength(0);
  });

  it('honours wildcards and negations', () => {
    const entries = parseKnownHosts(`uat-*,!uat-evil ssh-ed25519 ${b64(ED_A)}\n[10.1.?.1]:22 ssh-ed25519 ${b64(ED_B)}`);
    expect(keysFor(entries, 'uat-manager-1', 22).trusted).toHaveLength(1);
    expect(keysFor(entries, 'uat-evil', 22).trusted).toHaveLength(0);
    expect(keysFor(entries, 'prod-manager-1', 22).trusted).toHaveLength(0);
    // A dot in a pattern is literal, not a regex wildcard.
    expect(keysFor(parseKnownHosts(`a.b ssh-ed25519 ${b64(ED_A)}`), 'axb', 22).trusted).toHaveLength(0);
  });

  it('skips what it cannot trust: cert authorities, unknown types, corrupt or mislabelled blobs', () => {
    const text = [
      `@cert-authority * ssh-ed25519 ${b64(ED_A)}`,
      `h ssh-dss ${b64(blob('ssh-dss', 'dddd'))}`,
      `h ssh-ed25519 ${b64(RSA)}`,
      `h ssh-ed25519 AAAA`,
      `h ssh-ed25519`,
      `h`,
    ].join('\n');
    expect(parseKnownHosts(text)).toHaveLength(0);
  });

  it('verifies fail-closed: unknown, mismatch, revoked, trusted', () => {
    const entries = parseKnownHosts(`h ssh-ed25519 ${b64(ED_A)}\n@revoked * ssh-ed25519 ${b64(ED_B)}\nr ssh-ed25519 ${b64(ED_B)}`);
    expect(verifyHostKey(keysFor(entries, 'h', 22), ED_A)).toBe('trusted');
    expect(verifyHostKey(keysFor(entries, 'h', 22), RSA)).toBe('mismatch');
    expect(verifyHostKey(keysFor(entries, 'nobody', 22), ED_A)).toBe('unknown');
    expect(verifyHostKey(keysFor(entries, 'r', 22), ED_B)).toBe('revoked');
  });

  it('offers only the host key algorithms known for the host', () => {
    const entries = parseKnownHosts(`h ssh-rsa ${b64(RSA)}\nh ssh-ed25519 ${b64(ED_A)}`);
    expect(hostKeyAlgorithms(keysFor(entries, 'h', 22))).toEqual(['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  });

  it('helpers', () => {
    expect(lookupName('h', 22)).toBe('h');
    expect(lookupName('h', 2222)).toBe('[h]:2222');
    expect(blobType(ED_A)).toBe('ssh-ed25519');
    expect(blobType(Buffer.alloc(2))).toBeUndefined();
  });
});

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { aptMirror, type Paths } from './config';
import { DOCKER, must, run } from './exec';
import { withLock } from './lock';

/** Files whose content defines the images: any change gives a new tag and a rebuild. */
export const IMAGE_INPUTS = ['packages.txt', 'build-images.sh', 'sandbox-init'] as const;

export interface Images {
  hash: string;
  base: string;
  app: string;
  /** `docker save` of the app image, loaded into every inner dockerd. */
  appTar: string;
}

export function imageHash(assetsDir: string): string {
  const h = createHash('sha256');
  for (const f of IMAGE_INPUTS) {
    h.update(f).update('\0').update(readFileSync(join(assetsDir, f))).update('\0');
  }
  return h.digest('hex').slice(0, 12);
}

export function imagesFor(p: Paths): Images {
  const hash = imageHash(p.assets);
  return {
    hash,
    base: `sbdi-sandbox-base:${hash}`,
    app: `sbdi-sandbox-app:${hash}`,
    appTar: join(p.images, `app-${hash}.tar`),
  };
}

async function imageExists(name: string): Promise<boolean> {
  return (await run(DOCKER, ['image', 'inspect', name])).code === 0;
}

export async function imagesPresent(img: Images): Promise<boolean> {
  return existsSync(img.appTar) && (await imageExists(img.base)) && (await imageExists(img.app));
}

/**
 * Builds the base and app images unless both (and the app tar) exist. One build at a time per machine
 * (a lock under the cache), since two deployments may be created at once. Cold ~2-3 min; the .deb cache
 * under .cache/sandbox/debs makes a rebuild skip the downloads.
 */
export async function ensureImages(p: Paths, log: (msg: string) => void): Promise<Images> {
  const img = imagesFor(p);
  if (await imagesPresent(img)) return img;
  mkdirSync(p.images, { recursive: true });
  await withLock(join(p.cache, `build-${img.hash}.lock`), 'create', 900_000, async () => {
    if (await imagesPresent(img)) return;
    log(`building images ${img.base} and ${img.app} (debootstrap; takes a few minutes when cold)`);
    await must('create', undefined, 'bash', [join(p.assets, 'build-images.sh'), img.hash, p.cache, aptMirror(), p.assets, DOCKER], {
      timeoutMs: 1_800_000,
    });
  });
  return img;
}

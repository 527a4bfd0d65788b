// CLI of the sandbox platform: npm run sandbox -- up|create|converge|idempotence|verify|down|destroy|status [--prefix uat]
import { checkScale, type DockerScale } from './config';
import { SandboxError } from './errors';
import { demo, type DemoOptions } from './demo';
import { TARGET_BACKENDS, type TargetBackend } from './inventory';
import { converge, create, destroy, idempotence, status, verify } from './steps';

const USAGE = `usage: sandbox <command> [--prefix NAME] [--subnet A.B.C.0/24] [--keep-on-failure] [--with-remote] [--with-second-target]
        [--with-vms] [--target-backend zfs|btrfs|dir]
               [--docker-hosts N --containers-per-host M]
commands:
  up | create    build images if needed; network, volumes, btrfs sources, hosts, swarm, writer apps
                 (--with-remote: also the off-site remote backup-remote, group backup_remotes)
                 (--with-second-target: also backup-target-2, a dir store receiving solr-1)
                 (--with-vms: also lvm-1 and gluster-1, LVM and Gluster sources in qemu VMs, docs/vm.md)
                 (--docker-hosts N: light docker hosts docker-3..docker-N in group docker, and
                 --containers-per-host M idle containers up to M on every docker host; both default off)
                 (--target-backend: backup-target's store, zfs (zfs-fuse, default), btrfs (a loop file) or dir)
  converge       ansible-playbook -i <inventory> playbooks/backup.yml
  idempotence    converge again; fails when any host reports changed > 0
  verify         platform checks (services, ssh, btrfs, swarm, writers)
  test           create, converge, idempotence, verify, then destroy (always)
  down | destroy remove everything the deployment made (works after a crash)
  status         what exists for the deployment
  demo [--keep]  the main job: create, install, back up, damage, restore, verify (then destroy)`;

function parseArgs(argv: string[]): { command: string; opts: DemoOptions } {
  const opts: DemoOptions = {};
  let command = '';
  const scale: Partial<DockerScale> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new SandboxError('cli', undefined, `${a} needs a value`);
      return v;
    };
    if (a === '--prefix') opts.prefix = value();
    else if (a.startsWith('--prefix=')) opts.prefix = a.slice('--prefix='.length);
    else if (a === '--subnet') opts.subnet = value();
    else if (a === '--keep-on-failure') opts.keepOnFailure = true;
    else if (a === '--keep') opts.keep = true;
    else if (a === '--with-remote') opts.remote = true;
    else if (a === '--with-second-target') opts.secondTarget = true;
    else if (a === '--with-vms') opts.vms = true;
    else if (a === '--target-backend') {
      const v = value();
      if (!(TARGET_BACKENDS as readonly string[]).includes(v)) throw new SandboxError('cli', undefined, `--target-backend ${JSON.stringify(v)}: must be one of ${TARGET_BACKENDS.join(', ')}`);
      opts.targetBackend = v as TargetBackend;
    }
    else if (a === '--docker-hosts') scale.dockerHosts = Number(value());
    else if (a === '--containers-per-host') scale.containersPerHost = Number(value());
    else if (a === '-h' || a === '--help') command = 'help';
    else if (!command) command = a;
    else throw new SandboxError('cli', undefined, `unexpected argument ${JSON.stringify(a)}\n${USAGE}`);
  }
  if (scale.dockerHosts !== undefined || scale.containersPerHost !== undefined) {
    // One given alone keeps the other at the platform's own value (2 docker hosts, 3 apps each).
    opts.scale = checkScale({ dockerHosts: scale.dockerHosts ?? 2, containersPerHost: scale.containersPerHost ?? 3 });
  }
  return { command, opts };
}

async function main(argv: string[]): Promise<number> {
  const { command, opts } = parseArgs(argv);
  switch (command) {
    case 'up':
    case 'create':
      await create(opts);
      return 0;
    case 'converge':
      await converge(opts);
      return 0;
    case 'idempotence':
      await idempotence(opts);
      return 0;
    case 'verify':
      await verify(opts);
      return 0;
    case 'test':
      try {
        await create(opts);
        await converge(opts);
        await idempotence(opts);
        await verify(opts);
      } finally {
        await destroy(opts);
      }
      return 0;
    case 'down':
    case 'destroy':
      await destroy(opts);
      return 0;
    case 'status': {
      const s = await status(opts);
      process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
      return 0;
    }
    case 'demo':
      await demo(opts);
      return 0;
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof SandboxError && e.step === 'cli' ? 2 : 1);
  },
);

export * from './types';
export { parseResultLine } from './result';
export { Semaphore } from './semaphore';
export * from './known-hosts';
export { Ssh2Transport, type Ssh2TransportOptions, type SshHost } from './ssh2-transport';
export { sshFiles, transportForPlan, type SshFiles } from './config';

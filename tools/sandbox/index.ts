export { create, converge, idempotence, verify, destroy, status, deploymentNames, deploymentPaths } from './steps';
export type { SandboxOptions, CreateResult, StatusReport } from './steps';
export { HOSTS, names, paths, subnetFor, type HostSpec, type Names, type Paths } from './config';
export { registerCheck, type VerifyCheck, type VerifyContext, type VerifyResult } from './verify';
export { inventoryYaml } from './inventory';
export { parseRecap, type RecapLine } from './recap';
export { SandboxError, SandboxCleanupError } from './errors';

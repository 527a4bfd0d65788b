/** One problem found in an inventory: names the host, the variable, the value and what is allowed. */
export interface InventoryProblem {
  /** Inventory host name, or undefined for an inventory-wide problem. */
  host?: string;
  /** Variable or group the problem is about. */
  variable: string;
  /** The offending value as it was read (undefined when missing). */
  value?: unknown;
  /** What is allowed instead. */
  allowed: string;
}

export function formatProblem(p: InventoryProblem): string {
  const where = p.host === undefined ? 'inventory' : `host '${p.host}'`;
  const shown = p.value === undefined ? 'is missing' : `= ${showValue(p.value)}`;
  return `${where}: ${p.variable} ${shown}: ${p.allowed}`;
}

/** Values are shown JSON-quoted so newlines, quotes and control characters stay visible on one line. */
function showValue(v: unknown): string {
  const text = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** Thrown when an inventory cannot become a plan; carries every problem found, not just the first. */
export class InventoryError extends Error {
  readonly exitCode = 2;
  constructor(readonly problems: InventoryProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'InventoryError';
  }
}

/** ansible-inventory itself failed (unreadable file, syntax error): also exit code 2. */
export class InventoryReadError extends Error {
  readonly exitCode = 2;
  constructor(readonly path: string, detail: string) {
    super(`inventory ${path}: ansible-inventory could not read it: ${detail.trim()}`);
    this.name = 'InventoryReadError';
  }
}

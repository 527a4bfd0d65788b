/**
 * Quoting for the languages we render into. Values are validated by the plan before they get
 * here; quoting is the second fence, not the first.
 */

/** A bash word that expands to exactly `s`: single quotes, with embedded ones closed and reopened. */
export function shellQuote(s: string): string {
  if (/^[A-Za-z0-9_./@+:=-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A sudoers command argument. Sudoers gives ',', ':', '=', '\\' and white space meaning; plan
 * values never contain them, so refuse rather than escape.
 */
export function sudoersArg(s: string): string {
  if (!/^[A-Za-z0-9_./@+-]+$/.test(s)) throw new Error(`refusing to put ${JSON.stringify(s)} into sudoers`);
  return s;
}

/** An ssh authorized_keys `command="..."` value: no double quotes or backslashes allowed in it. */
export function forcedCommand(s: string): string {
  if (/["\\\n]/.test(s)) throw new Error(`refusing to put ${JSON.stringify(s)} into a forced command`);
  return s;
}

/** Output helpers shared by commands. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const stdio: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

export const printJson = (io: Io, value: unknown): void => io.out(JSON.stringify(value, null, 2));

/** Set from the command line: when true, errors are printed as JSON on stdout. */
export const outputState = { json: false };

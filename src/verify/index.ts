export { verify, parseInternet, type VerifyOptions, type VerifyProgress } from './verify.js';
export { formatReport, renderTable } from './table.js';
export { NeedsRootError, NotAppliedError, VerifyError } from '../errors.js';
export type { Expected, Observed, VerifyCell, VerifyColumn, VerifyReport, VerifySource } from './types.js';

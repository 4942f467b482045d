export { loadPolicy, parsePolicy, EMBEDDED, type LoadedPolicy } from './load.js';
export { DEFAULT_POLICY_PATH, DEFAULT_POLICY_YAML } from './default-policy.js';
export { policyJsonSchema, policySchema } from './schema.js';
export { formatDiagnostic, errorsOf, warningsOf, type Diagnostic } from './diagnostic.js';

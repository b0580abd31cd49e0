/**
 * Globs no task may ever change, whatever a target's policy.yaml says. Kept apart from
 * policy.ts so that the pure path checks can apply them without importing the policy parser.
 * Glob semantics are those of `matchesGlob` (paths.ts): `**` spans directories and matches
 * zero of them, `*` stays within one segment, dotfiles are matched.
 */
export const DEFAULT_FORBIDDEN_PATHS: readonly string[] = Object.freeze([
  // Repository internals, also of nested repositories and submodule gitfiles.
  '.git/**',
  '**/.git',
  '**/.git/**',
  // The contract itself: the agent must not rewrite its own backlog or policy.
  '.leviathan/**',
  // Workflows run with repository secrets; a task changing them is a privilege escalation.
  '.github/workflows/**',
  // Keys, certificates and secrets.
  '**/*.pem',
  '**/*.key',
  '**/*.p12',
  '**/*.pfx',
  '**/*.jks',
  '**/*.keystore',
  '**/id_rsa*',
  '**/id_dsa*',
  '**/id_ecdsa*',
  '**/id_ed25519*',
  '**/.env',
  '**/.env.*',
  '**/*secret*',
  '**/*Secret*',
  '**/*SECRET*',
  '**/credentials*',
  '**/.netrc',
  '**/.npmrc',
  '**/.pypirc',
  '**/.ssh/**',
  '**/.aws/**',
  '**/.docker/config.json',
]);

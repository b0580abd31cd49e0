/** Where the worker gets the token it pushes and opens pull requests with. */
export interface Credentials {
  token(): Promise<string>;
}

/** Credentials could not be obtained; always an `auth_error`. The message never holds a secret. */
export class CredentialsError extends Error {
  override readonly name = 'CredentialsError';
  readonly code = 'credentials_failed';
}

/**
 * A fixed token: GITHUB_TOKEN, which the executor sets to the repository's installation token
 * (or a development token).
 */
export function staticToken(token: string): Credentials {
  return { token: async () => token };
}

import type { PublicSession } from './session.ts';

/**
 * What the console's loaders and actions get from the server (Remix `context`). They read and
 * write only through `api`, i.e. the /v1 contract, never the store or the projections.
 */
export interface ConsoleLoadContext {
  /** The signed-in user, or null. */
  session: PublicSession | null;
  /**
   * Calls this server's /v1 API over loopback HTTP as the signed-in user (their session cookie,
   * plus the CSRF token on writes): the same authentication, authorization and errors as any
   * API client.
   */
  api(path: string, init?: { method?: string; json?: unknown }): Promise<Response>;
  /** Sign in with GitHub is offered (GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET set). */
  oauthEnabled: boolean;
  /** A fresh double-submit token for the sign-in form, and the cookie that must accompany it. */
  issueLoginCsrf(): { csrf: string; setCookie: string };
}

declare module '@remix-run/server-runtime' {
  // Remix's context type is an open interface; this makes `context` typed in every loader.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface AppLoadContext extends ConsoleLoadContext {}
  // Single fetch (v3_singleFetch) changes what loaders' data types look like on the client.
  interface Future {
    v3_singleFetch: true;
  }
}

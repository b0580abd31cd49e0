/**
 * Where to go after sign-in: a path on this site, or `/`. Browsers drop tabs and newlines when
 * parsing URLs, so `/\t/evil.example` would become `//evil.example`: anything but a plain
 * absolute path (no second slash or backslash up front, no control characters) is refused.
 */
export function safeNext(next: string | null | undefined): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (!next || !/^\/(?![/\\])[^\u0000-\u001f\u007f\\]*$/.test(next)) return '/';
  return next;
}

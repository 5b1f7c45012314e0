/** Where to go after signing in: a path on this console (from ?returnTo=), never another site. */
export function returnTarget(search: string): string {
  const to = new URLSearchParams(search).get('returnTo');
  return to && /^\/(?![/\\])/.test(to) && !to.startsWith('/sign-in') ? to : '/inbox';
}

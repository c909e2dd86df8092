// Performance marks the UI tests read: `netobserv:<tab>` when a tab first shows its data
// (milliseconds since navigation start, from the browser's performance timeline).
export function markRendered(tab: string) {
  const name = `netobserv:${tab}`;
  if (typeof performance !== 'undefined' && performance.getEntriesByName(name).length === 0) performance.mark(name);
}

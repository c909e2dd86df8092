// The page's state lives in the URL query, so a view can be shared and back/forward works.
import { useCallback, useSyncExternalStore } from 'react';

const listeners = new Set<() => void>();

function notify() {
  listeners.forEach((l) => l());
}

function subscribe(l: () => void) {
  listeners.add(l);
  window.addEventListener('popstate', l);
  return () => {
    listeners.delete(l);
    window.removeEventListener('popstate', l);
  };
}

const snapshot = () => window.location.search;

/** Changes to apply to the query: a string sets, `undefined` or `''` removes. */
export type UrlChanges = Record<string, string | undefined>;

/** Applies `changes` to the current URL (a new history entry when `push`). */
export function setUrl(changes: UrlChanges, push = true) {
  const params = new URLSearchParams(window.location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === '') params.delete(k);
    else params.set(k, v);
  }
  const q = params.toString();
  const url = `${window.location.pathname}${q ? `?${q}` : ''}${window.location.hash}`;
  if (url === `${window.location.pathname}${window.location.search}${window.location.hash}`) return;
  if (push) window.history.pushState(null, '', url);
  else window.history.replaceState(null, '', url);
  notify();
}

/** The query parameters, re-rendering on every change, and a setter. */
export function useUrl(): [URLSearchParams, (changes: UrlChanges, push?: boolean) => void] {
  const search = useSyncExternalStore(subscribe, snapshot);
  const set = useCallback((c: UrlChanges, push?: boolean) => setUrl(c, push), []);
  return [new URLSearchParams(search), set];
}

import { useNavigation, useRevalidator } from '@remix-run/react';
import { createContext, useCallback, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import type { StoredEvent } from '../api-types.ts';

export type Connection = 'connecting' | 'live' | 'unreachable';

interface Live {
  connection: Connection;
  /** When the control plane last answered (ms since epoch), or null. */
  lastContact: number | null;
  subscribe(fn: (e: StoredEvent) => void): () => void;
}

const LiveContext = createContext<Live>({ connection: 'connecting', lastContact: null, subscribe: () => () => {} });

/**
 * One EventSource for the whole console (browsers allow few connections per origin), opened
 * from the seq the page was rendered at so nothing between render and connect is missed. The
 * session cookie authenticates it; reconnects resume from the last id (Last-Event-ID).
 */
export function LiveProvider({ since, types, children }: { since: number; types: string[]; children: ReactNode }) {
  const [connection, setConnection] = useState<Connection>('connecting');
  const [lastContact, setLastContact] = useState<number | null>(null);
  const listeners = useRef(new Set<(e: StoredEvent) => void>());
  const lastSeq = useRef(since);
  const source = useRef<EventSource | null>(null);
  const registered = useRef(new Set<string>());
  const typesRef = useRef(types);
  typesRef.current = types;

  const handle = useCallback((m: Event) => {
    let e: StoredEvent;
    try {
      e = JSON.parse(String((m as MessageEvent).data)) as StoredEvent;
    } catch {
      return;
    }
    if (typeof e.seq !== 'number' || e.seq <= lastSeq.current) return;
    lastSeq.current = e.seq;
    setLastContact(Date.now());
    setConnection('live');
    for (const fn of listeners.current) fn(e);
  }, []);

  // The stream names each frame after its event type (`event: pr.created`), and EventSource only
  // delivers named frames to listeners of that name: listen for every type the console knows.
  const listenAll = useCallback(() => {
    const es = source.current;
    if (!es) return;
    for (const type of typesRef.current) {
      if (registered.current.has(type)) continue;
      registered.current.add(type);
      es.addEventListener(type, handle);
    }
  }, [handle]);

  useEffect(() => {
    let retry: ReturnType<typeof setTimeout> | null = null;
    let stopped = false;
    const open = () => {
      const es = new EventSource(`/v1/events/stream?last_event_id=${lastSeq.current}`);
      source.current = es;
      registered.current = new Set();
      es.onopen = () => {
        setConnection('live');
        setLastContact(Date.now());
      };
      es.onmessage = handle;
      listenAll();
      es.onerror = () => {
        setConnection('unreachable');
        if (es.readyState === EventSource.CLOSED) {
          // The server answered but refused the stream: signed out, or an error page from a proxy.
          source.current = null;
          void fetch('/auth/session', { credentials: 'same-origin' })
            .then((r) => {
              if (r.status === 401) window.location.assign(`/sign-in?next=${encodeURIComponent(window.location.pathname)}`);
            })
            .catch(() => {});
          if (!stopped) retry = setTimeout(open, 3000);
        }
      };
    };
    open();
    return () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      source.current?.close();
      source.current = null;
    };
  }, [handle, listenAll]);

  const typesKey = types.join(',');
  useEffect(() => listenAll(), [typesKey, listenAll]);

  const subscribe = useCallback((fn: (e: StoredEvent) => void) => {
    listeners.current.add(fn);
    return () => {
      listeners.current.delete(fn);
    };
  }, []);

  return <LiveContext.Provider value={{ connection, lastContact, subscribe }}>{children}</LiveContext.Provider>;
}

export function useLive(): Live {
  return useContext(LiveContext);
}

/**
 * Reloads the page's data when events arrive (debounced), and after a reconnect. Never while a
 * navigation or another reload is in flight: interrupting one aborts its request half-read.
 */
export function useLiveRevalidate(): void {
  const { subscribe, connection } = useLive();
  const revalidator = useRevalidator();
  const navigation = useNavigation();
  const [wanted, setWanted] = useState(0);
  const done = useRef(0);

  useEffect(() => subscribe(() => setWanted((n) => n + 1)), [subscribe]);

  const previous = useRef(connection);
  useEffect(() => {
    if (previous.current === 'unreachable' && connection === 'live') setWanted((n) => n + 1);
    previous.current = connection;
  }, [connection]);

  const idle = revalidator.state === 'idle' && navigation.state === 'idle';
  const { revalidate } = revalidator;
  useEffect(() => {
    if (!idle || wanted === done.current) return;
    const t = setTimeout(() => {
      done.current = wanted;
      revalidate();
    }, 150);
    return () => clearTimeout(t);
  }, [idle, wanted, revalidate]);
}

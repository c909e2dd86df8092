// Which records the queries read (reference §B.2 `recordType`): plain flow logs, or the events
// of conversation tracking (`processor.logTypes`) that the configuration says are stored.
import type { FrontendConfig } from './api';

/** The connection events conversation tracking writes. */
const CONNECTION_TYPES = ['newConnection', 'heartbeat', 'endConnection'];

const LABELS: Record<string, string> = {
  flowLog: 'Flows',
  allConnections: 'Conversations (every event)',
  newConnection: 'Conversations started',
  heartbeat: 'Conversation heartbeats',
  endConnection: 'Conversations ended',
};

/** `recordType` values the user can pick, with labels; the stored types only. */
export function recordTypeOptions(config: FrontendConfig): [string, string][] {
  const stored = config.recordTypes ?? ['flowLog'];
  const connections = CONNECTION_TYPES.filter((t) => stored.includes(t));
  const values = [
    ...(stored.includes('flowLog') ? ['flowLog'] : []),
    ...(connections.length > 1 ? ['allConnections'] : []),
    ...connections,
  ];
  return values.map((v) => [v, LABELS[v]]);
}

/** Whether conversation tracking writes anything (the log type choice and columns apply). */
export function tracksConversations(config: FrontendConfig): boolean {
  return (config.recordTypes ?? []).some((t) => CONNECTION_TYPES.includes(t));
}

/** The record type read when the URL names none: flow logs when they are stored, else every
 * conversation event (or the only one stored, `endConnection` for `EndedConversations`). */
export function defaultRecordType(config: FrontendConfig | null): string {
  if (!config) return 'flowLog';
  return recordTypeOptions(config)[0]?.[0] ?? 'flowLog';
}

/** Whether `recordType` reads connection events (whose records carry the conversation). */
export function isConnectionType(recordType: string): boolean {
  return recordType !== 'flowLog';
}

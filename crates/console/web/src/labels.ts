// Names people read for filter ids, columns and scopes.

const WORDS: Record<string, string> = {
  src: 'Source',
  dst: 'Destination',
  xlat: 'Translated',
  dns: 'DNS',
  rtt: 'RTT',
  ip: 'IP',
  id: 'ID',
  tcp: 'TCP',
  icmp: 'ICMP',
  pkt: 'Packet',
  ipsec: 'IPsec',
  udns: 'UDNs',
  mac: 'MAC',
  dscp: 'DSCP',
  errno: 'error number',
  ifdirections: 'interface directions',
};

/** `src_host_address` → `Source host address`. */
export function filterLabel(id: string): string {
  const words = id.split('_').map((w) => WORDS[w] ?? w);
  const text = words.join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const COLUMN_NAMES: Record<string, string> = {
  TimeFlowStartMs: 'Start time',
  TimeFlowEndMs: 'End time',
  TimeReceived: 'Received',
  SrcK8S_Name: 'Source name',
  DstK8S_Name: 'Destination name',
  SrcK8S_Namespace: 'Source namespace',
  DstK8S_Namespace: 'Destination namespace',
  SrcK8S_Type: 'Source kind',
  DstK8S_Type: 'Destination kind',
  SrcK8S_OwnerName: 'Source owner',
  DstK8S_OwnerName: 'Destination owner',
  SrcK8S_OwnerType: 'Source owner kind',
  DstK8S_OwnerType: 'Destination owner kind',
  SrcK8S_HostName: 'Source node',
  DstK8S_HostName: 'Destination node',
  SrcK8S_HostIP: 'Source node IP',
  DstK8S_HostIP: 'Destination node IP',
  SrcK8S_Zone: 'Source zone',
  DstK8S_Zone: 'Destination zone',
  SrcAddr: 'Source IP',
  DstAddr: 'Destination IP',
  SrcPort: 'Source port',
  DstPort: 'Destination port',
  Proto: 'Protocol',
  FlowDirection: 'Node direction',
  Interfaces: 'Interfaces',
  IfDirections: 'Interface directions',
  DnsLatencyMs: 'DNS latency',
  DnsFlagsResponseCode: 'DNS response code',
  DnsName: 'DNS query name',
  DnsId: 'DNS ID',
  TimeFlowRttNs: 'Flow RTT',
  NetworkEvents: 'Network events',
  PktDropBytes: 'Dropped bytes',
  PktDropPackets: 'Dropped packets',
  PktDropLatestState: 'Drop TCP state',
  PktDropLatestDropCause: 'Drop cause',
  XlatSrcAddr: 'Translated source IP',
  XlatDstAddr: 'Translated destination IP',
  XlatSrcPort: 'Translated source port',
  XlatDstPort: 'Translated destination port',
  XlatSrcEndpoint: 'Translated source',
  XlatDstEndpoint: 'Translated destination',
  ZoneId: 'Conntrack zone',
  K8S_FlowLayer: 'Flow layer',
  K8S_ClusterName: 'Cluster',
  Src: 'Source',
  Dst: 'Destination',
};

/** A column's title. */
export function columnLabel(id: string, name?: string): string {
  return COLUMN_NAMES[id] ?? (name && name !== id ? name : id);
}

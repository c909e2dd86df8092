// The `top_sankey` overview panel: the top flows of the scope as a Sankey diagram, sources on
// the left, destinations on the right, each band as wide as its rate. d3-sankey lays it out;
// the SVG is drawn here with the theme's colours.
import { sankey, sankeyLinkHorizontal, SankeyLink, SankeyNode } from 'd3-sankey';
import type { ScopeConfig, Series } from '../api';
import { useConfig } from '../state';
import { buildGraph } from '../topologyModel';

const WIDTH = 520;
const HEIGHT = 260;
/** Room for the labels beside each column of nodes. */
const LABEL = 150;

interface Node {
  id: string;
  label: string;
  side: 'src' | 'dst';
}
interface Link {
  source: string;
  target: string;
  value: number;
}

/** Sources and destinations as two columns: an endpoint that is both appears on each side, so
 * the diagram never loops back. */
export function sankeyData(series: Series[], scopeId: string, scopes: ScopeConfig[]) {
  const scope = scopes.find((s) => s.id === scopeId) ?? scopes[0];
  const { nodes, edges } = buildGraph(series, scope, false);
  const label = new Map(nodes.map((n) => [n.id, n.label]));
  const used = new Map<string, Node>();
  const links: Link[] = [];
  for (const e of edges) {
    if (!(e.value > 0)) continue;
    const source = `src:${e.source}`;
    const target = `dst:${e.target}`;
    used.set(source, { id: source, label: label.get(e.source) ?? e.source, side: 'src' });
    used.set(target, { id: target, label: label.get(e.target) ?? e.target, side: 'dst' });
    links.push({ source, target, value: e.value });
  }
  return { nodes: [...used.values()], links };
}

export function SankeyChart({ series, scopeId, unitText }: { series: Series[]; scopeId: string; unitText: (v: number) => string }) {
  const config = useConfig();
  const data = sankeyData(series, scopeId, config.scopes);
  if (!data.links.length) return null;
  const layout = sankey<Node, Link>()
    .nodeId((n) => n.id)
    .nodeWidth(10)
    .nodePadding(8)
    .extent([
      [LABEL, 4],
      [WIDTH - LABEL, HEIGHT - 4],
    ]);
  const graph = layout({ nodes: data.nodes.map((n) => ({ ...n })), links: data.links.map((l) => ({ ...l })) });
  const path = sankeyLinkHorizontal<Node, Link>();
  const nodeOf = (end: SankeyLink<Node, Link>['source']) => end as SankeyNode<Node, Link>;
  return (
    <svg width={WIDTH} height={HEIGHT} role="img" aria-label="Top flows between sources and destinations" data-test="sankey">
      <g fill="none" stroke="var(--pf-t--global--color--brand--default, #06c)" strokeOpacity={0.35}>
        {graph.links.map((l) => (
          <path
            key={`${nodeOf(l.source).id}>${nodeOf(l.target).id}`}
            d={path(l) ?? undefined}
            strokeWidth={Math.max(1, l.width ?? 1)}
            data-test="sankey-link"
            data-source={nodeOf(l.source).label}
            data-target={nodeOf(l.target).label}
            data-value={l.value}
          >
            <title>{`${nodeOf(l.source).label} → ${nodeOf(l.target).label}: ${unitText(l.value)}`}</title>
          </path>
        ))}
      </g>
      {graph.nodes.map((n) => {
        const x0 = n.x0 ?? 0;
        const x1 = n.x1 ?? 0;
        const y0 = n.y0 ?? 0;
        const y1 = n.y1 ?? 0;
        const left = n.side === 'src';
        const text = n.label.length > 22 ? `${n.label.slice(0, 21)}…` : n.label;
        return (
          <g key={n.id} data-test="sankey-node" data-side={n.side} data-label={n.label}>
            <rect x={x0} y={y0} width={x1 - x0} height={Math.max(1, y1 - y0)} fill="var(--pf-t--global--color--brand--default, #06c)" />
            <text
              x={left ? x0 - 4 : x1 + 4}
              y={(y0 + y1) / 2}
              dy="0.35em"
              textAnchor={left ? 'end' : 'start'}
              fontSize={11}
              fill="var(--pf-t--global--text--color--regular, #151515)"
            >
              {text}
              <title>{`${n.label}: ${unitText(n.value ?? 0)}`}</title>
            </text>
          </g>
        );
      })}
    </svg>
  );
}

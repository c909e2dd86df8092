// The Topology tab: a graph of the chosen scope (cluster, zone, node, namespace, owner,
// resource) from `/api/flow/metrics`, edge metrics as tags, a side panel for a node or an edge
// with "filter" and "step into".
import {
  Button,
  Drawer,
  DrawerActions,
  DrawerCloseButton,
  DrawerContent,
  DrawerContentBody,
  DrawerHead,
  DrawerPanelBody,
  DrawerPanelContent,
  Flex,
  FlexItem,
  FormSelect,
  FormSelectOption,
  Title,
} from '@patternfly/react-core';
import {
  action,
  ColaLayout,
  ComponentFactory,
  createTopologyControlButtons,
  defaultControlButtonsOptions,
  DefaultEdge,
  DefaultGroup,
  DefaultNode,
  EdgeModel,
  GRAPH_LAYOUT_END_EVENT,
  Graph,
  GraphComponent,
  GraphElement,
  Layout,
  LayoutFactory,
  Model,
  ModelKind,
  NodeModel,
  NodeShape,
  observer,
  SELECTION_EVENT,
  TopologyControlBar,
  TopologyView,
  Visualization,
  VisualizationProvider,
  VisualizationSurface,
  withPanZoom,
  withSelection,
  WithSelectionProps,
} from '@patternfly/react-topology';
import { useEffect, useMemo, useState } from 'react';
import { getMetrics, ScopeConfig } from '../api';
import { filtersText, parseFilters } from '../filters';
import { bytes, count } from '../format';
import { buildGraph, nodeFilters, TopoEdge, TopoNode } from '../topologyModel';
import { useConfig, useLoad, ViewState } from '../state';
import { ErrorMessage, Loading, NoResults } from './Messages';
import { markRendered } from '../perf';

const METRICS: { type: string; label: string; fn: string; unit: (v: number) => string }[] = [
  { type: 'Bytes', label: 'Bytes (total)', fn: 'sum', unit: bytes },
  { type: 'Packets', label: 'Packets (total)', fn: 'sum', unit: (v) => `${count(v)} pkts` },
  { type: 'PktDropPackets', label: 'Dropped packets (total)', fn: 'sum', unit: (v) => `${count(v)} dropped` },
  { type: 'TimeFlowRttNs', label: 'RTT (average)', fn: 'avg', unit: (v) => `${v.toFixed(2)} ms` },
  { type: 'DnsLatencyMs', label: 'DNS latency (average)', fn: 'avg', unit: (v) => `${v.toFixed(1)} ms` },
];

const TopoNodeView = observer(({ element, onSelect, selected }: { element: GraphElement } & WithSelectionProps) => {
  const data = element.getData() as TopoNode;
  return (
    <DefaultNode element={element} onSelect={onSelect} selected={selected} showLabel label={data.label} truncateLength={28}>
      <g data-test="topology-node" data-label={data.label} />
    </DefaultNode>
  );
});

const TopoEdgeView = observer(({ element, onSelect, selected }: { element: GraphElement } & WithSelectionProps) => {
  const data = element.getData() as { tag: string };
  return <DefaultEdge element={element as never} onSelect={onSelect} selected={selected} tag={data.tag} />;
});

const componentFactory: ComponentFactory = (kind, type) => {
  if (type === 'group') return DefaultGroup as never;
  switch (kind) {
    case ModelKind.graph:
      return withPanZoom()(GraphComponent);
    case ModelKind.node:
      return withSelection()(TopoNodeView as never) as never;
    case ModelKind.edge:
      return withSelection()(TopoEdgeView as never) as never;
    default:
      return undefined;
  }
};

const layoutFactory: LayoutFactory = (_type: string, graph: Graph): Layout | undefined =>
  new ColaLayout(graph, { layoutOnDrag: false, maxTicks: 300 });

function toModel(nodes: TopoNode[], edges: TopoEdge[], unit: (v: number) => string, grouped: boolean): Model {
  const nodeModels: NodeModel[] = nodes.map((n) => ({
    id: n.id,
    type: 'node',
    label: n.label,
    width: 50,
    height: 50,
    shape: n.id === 'external' ? NodeShape.rect : NodeShape.ellipse,
    data: n,
  }));
  if (grouped) {
    const groups = [...new Set(nodes.map((n) => n.group).filter((g): g is string => !!g))];
    for (const g of groups) {
      nodeModels.push({
        id: `group:${g}`,
        type: 'group',
        group: true,
        label: g,
        children: nodes.filter((n) => n.group === g).map((n) => n.id),
        style: { padding: 30 },
        data: { label: g, fields: { K8S_Namespace: g }, id: `group:${g}` },
      });
    }
  }
  const edgeModels: EdgeModel[] = edges.map((e) => ({
    id: e.id,
    type: 'edge',
    source: e.source,
    target: e.target,
    data: { ...e, tag: unit(e.value) },
  }));
  return { graph: { id: 'graph', type: 'graph', layout: 'Cola' }, nodes: nodeModels, edges: edgeModels };
}

function SidePanel({
  item,
  scope,
  view,
  unit,
  onClose,
  nodes,
}: {
  item: { node?: TopoNode; edge?: TopoEdge };
  scope: ScopeConfig;
  view: ViewState;
  unit: (v: number) => string;
  onClose: () => void;
  nodes: Map<string, TopoNode>;
}) {
  const config = useConfig();
  const addFilters = (pairs: [string, string][], extra: Record<string, string> = {}) => {
    const current = parseFilters(view.params.get('filters'));
    const add = pairs.map(([id, v]) => ({ id, compare: '=' as const, values: [v] }));
    view.set({ filters: filtersText([...current.filter((c) => !add.some((a) => a.id === c.id)), ...add]), ...extra });
  };
  const stepInto = scope.stepInto && config.scopes.find((s) => s.id === scope.stepInto);
  const { node, edge } = item;
  return (
    <DrawerPanelContent widths={{ default: 'width_33' }} data-test="topology-panel">
      <DrawerHead>
        <Title headingLevel="h2" size="lg">
          {node ? node.label : `${nodes.get(edge!.source)?.label} → ${nodes.get(edge!.target)?.label}`}
        </Title>
        <DrawerActions>
          <DrawerCloseButton onClick={onClose} />
        </DrawerActions>
      </DrawerHead>
      <DrawerPanelBody>
        {node && (
          <>
            {Object.entries(node.fields).map(([k, v]) => (
              <div key={k}>
                <strong>{k.replace('K8S_', '')}</strong>: {v}
              </div>
            ))}
            <Flex direction={{ default: 'column' }} style={{ marginTop: '1rem' }}>
              <Button
                variant="secondary"
                onClick={() => addFilters(nodeFilters(node))}
                data-test="topology-filter-node"
                isDisabled={node.id === 'external'}
              >
                Filter on this {scope.name.toLowerCase()}
              </Button>
              <Button
                variant="secondary"
                onClick={() => addFilters(nodeFilters(node), { tab: 'table' })}
                data-test="topology-show-flows"
                isDisabled={node.id === 'external'}
              >
                Show its flows
              </Button>
              {stepInto && node.id !== 'external' && (
                <Button
                  variant="secondary"
                  onClick={() => addFilters(nodeFilters(node), { scope: stepInto.id })}
                  data-test="topology-step-into"
                >
                  Step into ({stepInto.name.toLowerCase()} scope)
                </Button>
              )}
            </Flex>
          </>
        )}
        {edge && (
          <>
            <div data-test="topology-edge-value">{unit(edge.value)}</div>
            <Button
              variant="secondary"
              style={{ marginTop: '1rem' }}
              onClick={() => {
                const a = nodes.get(edge.source);
                const b = nodes.get(edge.target);
                addFilters([...(a ? nodeFilters(a, 'src_') : []), ...(b ? nodeFilters(b, 'dst_') : [])]);
              }}
              data-test="topology-filter-edge"
            >
              Filter on this edge
            </Button>
          </>
        )}
      </DrawerPanelBody>
    </DrawerPanelContent>
  );
}

export function Topology({ view, tick }: { view: ViewState; tick: number }) {
  const config = useConfig();
  const scopeId = view.params.get('scope') ?? 'namespace';
  const scope = config.scopes.find((s) => s.id === scopeId) ?? config.scopes[0];
  const metric = METRICS.find((m) => m.type === view.params.get('metric')) ?? METRICS[0];
  const grouped = view.params.get('group') === 'namespace' && (scope.id === 'owner' || scope.id === 'resource');
  const q = `${view.query}&aggregateBy=${scope.id}&type=${metric.type}&function=${metric.fn}&limit=${view.params.get('topN') ?? 50}&step=60s`;
  const [retry, setRetry] = useState(0);
  const { data, error, loading } = useLoad(`${q}#${tick}#${retry}`, (s) => getMetrics(q, s), q);
  const graph = useMemo(() => buildGraph(data ?? [], scope, metric.fn === 'sum'), [data, scope, metric]);
  const nodeMap = useMemo(() => new Map(graph.nodes.map((n) => [n.id, n])), [graph]);
  const [selected, setSelected] = useState<string | null>(null);

  const controller = useMemo(() => {
    const c = new Visualization();
    c.registerLayoutFactory(layoutFactory);
    c.registerComponentFactory(componentFactory);
    c.addEventListener(SELECTION_EVENT, (ids: string[]) => setSelected(ids[0] ?? null));
    c.addEventListener(GRAPH_LAYOUT_END_EVENT, () => {
      c.getGraph().fit(60);
      if (c.getGraph().getNodes().length) markRendered('topology');
    });
    c.fromModel({ graph: { id: 'graph', type: 'graph', layout: 'Cola' }, nodes: [], edges: [] }, false);
    return c;
  }, []);
  useEffect(() => {
    // Merge into the existing graph: replacing it would leave the running layout on a detached graph.
    controller.fromModel(toModel(graph.nodes, graph.edges, metric.unit, grouped), true);
    setSelected(null);
  }, [controller, graph, metric, grouped]);

  const toolbar = (
    <Flex spaceItems={{ default: 'spaceItemsSm' }} style={{ marginBottom: '0.5rem' }}>
      <FlexItem>
        <FormSelect value={scope.id} onChange={(_e, v) => view.set({ scope: v })} aria-label="Scope" data-test="topology-scope">
          {config.scopes.map((s) => (
            <FormSelectOption key={s.id} value={s.id} label={`Scope: ${s.name}`} />
          ))}
        </FormSelect>
      </FlexItem>
      <FlexItem>
        <FormSelect
          value={metric.type}
          onChange={(_e, v) => view.set({ metric: v === 'Bytes' ? undefined : v })}
          aria-label="Edge metric"
          data-test="topology-metric"
        >
          {METRICS.map((m) => (
            <FormSelectOption key={m.type} value={m.type} label={`Edges: ${m.label}`} />
          ))}
        </FormSelect>
      </FlexItem>
      <FlexItem>
        <FormSelect
          value={view.params.get('group') ?? 'none'}
          onChange={(_e, v) => view.set({ group: v === 'none' ? undefined : v })}
          aria-label="Groups"
          data-test="topology-group"
        >
          <FormSelectOption value="none" label="No grouping" />
          <FormSelectOption value="namespace" label="Group by namespace (owner, resource)" />
        </FormSelect>
      </FlexItem>
      <FlexItem>
        <FormSelect
          value={view.params.get('topN') ?? '50'}
          onChange={(_e, v) => view.set({ topN: v === '50' ? undefined : v })}
          aria-label="Edges shown"
          data-test="topology-topn"
        >
          {['10', '25', '50', '100', '200'].map((n) => (
            <FormSelectOption key={n} value={n} label={`Top ${n} edges`} />
          ))}
        </FormSelect>
      </FlexItem>
      <FlexItem data-test="topology-summary">
        {graph.nodes.length} nodes, {graph.edges.length} edges
      </FlexItem>
    </Flex>
  );

  let body;
  if (error) body = <ErrorMessage error={error} what="the topology" retry={() => setRetry(retry + 1)} />;
  else if (loading && !data) body = <Loading what="topology" />;
  else if (!graph.nodes.length) body = <NoResults what="traffic to draw" />;
  if (body && !loading) markRendered('topology');
  const item = selected
    ? nodeMap.has(selected)
      ? { node: nodeMap.get(selected) }
      : { edge: graph.edges.find((e) => e.id === selected) }
    : null;

  return (
    <>
      {toolbar}
      {body}
      <div style={{ height: 'calc(100vh - 20rem)', minHeight: '28rem', display: body ? 'none' : 'block' }} data-test="topology">
        <Drawer isExpanded={!!item && !!(item.node || item.edge)} isInline>
          <DrawerContent
            panelContent={
              item && (item.node || item.edge) ? (
                <SidePanel item={item} scope={scope} view={view} unit={metric.unit} onClose={() => setSelected(null)} nodes={nodeMap} />
              ) : undefined
            }
          >
            <DrawerContentBody style={{ height: '100%' }}>
              <TopologyView
                controlBar={
                  <TopologyControlBar
                    controlButtons={createTopologyControlButtons({
                      ...defaultControlButtonsOptions,
                      zoomInCallback: action(() => controller.getGraph().scaleBy(4 / 3)),
                      zoomOutCallback: action(() => controller.getGraph().scaleBy(0.75)),
                      fitToScreenCallback: action(() => controller.getGraph().fit(40)),
                      resetViewCallback: action(() => {
                        controller.getGraph().reset();
                        controller.getGraph().layout();
                      }),
                      legend: false,
                    })}
                  />
                }
              >
                <VisualizationProvider controller={controller}>
                  <VisualizationSurface state={{ selectedIds: selected ? [selected] : [] }} />
                </VisualizationProvider>
              </TopologyView>
            </DrawerContentBody>
          </DrawerContent>
        </Drawer>
      </div>
    </>
  );
}

// Drawing one overview panel: horizontal bars of the top series' means, a donut of shares, or
// lines over time; below it the same numbers as text.
import { Chart, ChartArea, ChartAxis, ChartBar, ChartDonut, ChartStack, ChartVoronoiContainer } from '@patternfly/react-charts/victory';
import { List, ListItem } from '@patternfly/react-core';
import type { Series } from '../api';
import { bytes, count } from '../format';
import { mean, seriesName, total } from '../series';
import type { PanelDef } from './Overview';
import '../charts.css';
import { NoResults } from './Messages';
import { SankeyChart } from './SankeyChart';

function unitText(v: number, unit: PanelDef['unit']): string {
  switch (unit) {
    case 'Bps':
      return `${bytes(v)}/s`;
    case 'pps':
      return `${count(v)} packets/s`;
    case 'ms':
      return `${v.toFixed(2)} ms`;
    default:
      return count(v);
  }
}

export function PanelChart({ def, series, scopeId }: { def: PanelDef; series: Series[]; scopeId: string }) {
  if (!series.length) return <NoResults what="data for this panel" />;
  const rows = series
    .map((s) => ({ name: seriesName(s.metric), value: def.fn === 'count' ? total(s) : mean(s), s }))
    .sort((a, b) => b.value - a.value);
  const legend = (
    <List isPlain data-test="panel-values" style={{ fontSize: 'var(--pf-t--global--font--size--sm)' }}>
      {rows.map((r) => (
        <ListItem key={r.name}>
          <strong>{unitText(r.value, def.unit)}</strong> {r.name}
        </ListItem>
      ))}
    </List>
  );
  let chart;
  if (def.kind === 'sankey') {
    chart = <SankeyChart series={series} scopeId={scopeId} unitText={(v) => unitText(v, def.unit)} />;
  } else if (def.kind === 'donut') {
    const sum = rows.reduce((a, r) => a + r.value, 0);
    chart = (
      <div style={{ height: 200, width: 360 }}>
        <ChartDonut
          ariaTitle={def.title}
          data={rows.map((r) => ({ x: r.name, y: r.value }))}
          labels={({ datum }) => `${datum.x}: ${unitText(datum.y, def.unit)}`}
          title={def.unit === 'Bps' ? bytes(sum) : def.unit === 'ms' ? sum.toFixed(1) : count(sum)}
          subTitle={{ Bps: 'per second, total', pps: 'packets/s, total', ms: 'ms', count: 'flows, total' }[def.unit]}
          height={200}
          width={360}
          padding={{ left: 20, right: 140, top: 20, bottom: 20 }}
        />
      </div>
    );
  } else if (def.kind === 'lines') {
    chart = (
      <div style={{ height: 220 }}>
        <Chart
          ariaTitle={def.title}
          height={220}
          width={520}
          scale={{ x: 'time' }}
          padding={{ left: 80, right: 20, top: 10, bottom: 40 }}
          containerComponent={
            <ChartVoronoiContainer labels={({ datum }) => `${datum.name}: ${unitText(datum.y, def.unit)}`} constrainToVisibleArea />
          }
        >
          <ChartAxis
            tickFormat={(t: Date) => `${String(t.getHours()).padStart(2, '0')}:${String(t.getMinutes()).padStart(2, '0')}`}
            tickCount={4}
          />
          <ChartAxis dependentAxis tickFormat={(t: number) => (def.unit === 'Bps' ? bytes(t) : count(t))} tickCount={4} />
          <ChartStack>
            {rows.map((r) => (
              <ChartArea
                key={r.name}
                name={r.name}
                interpolation="monotoneX"
                data={r.s.values.map(([t, v]) => ({ x: new Date(t * 1000), y: Number(v), name: r.name }))}
              />
            ))}
          </ChartStack>
        </Chart>
      </div>
    );
  } else {
    const top = rows.slice(0, 8).reverse();
    chart = (
      <div style={{ height: 40 + top.length * 26 }}>
        <Chart
          ariaTitle={def.title}
          horizontal
          height={40 + top.length * 26}
          width={520}
          domainPadding={{ x: 12 }}
          padding={{ left: 20, right: 190, top: 10, bottom: 30 }}
        >
          <ChartAxis tickFormat={() => ''} />
          <ChartAxis dependentAxis tickFormat={(t: number) => (def.unit === 'Bps' ? bytes(t) : count(t))} tickCount={4} />
          <ChartBar
            data={top.map((r) => ({ x: r.name, y: r.value }))}
            labels={({ datum }) => (String(datum.x).length > 28 ? `${String(datum.x).slice(0, 27)}…` : `${datum.x}`)}
            barWidth={16}
          />
        </Chart>
      </div>
    );
  }
  return (
    <>
      <div className="netobserv-chart">{chart}</div>
      {legend}
    </>
  );
}

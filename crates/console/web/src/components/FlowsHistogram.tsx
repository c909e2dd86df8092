// Above the table: how many flows ended in each step of the time range (the backend's Flows
// count over the same filters). Clicking a bar narrows the time range to that step.
import { Chart, ChartAxis, ChartBar } from '@patternfly/react-charts/victory';
import { getMetrics } from '../api';
import { count } from '../format';
import { useLoad, ViewState } from '../state';
import '../charts.css';

/** Seconds per bar: about 40 bars over the range, at least 15 s. */
function stepOf(view: ViewState): number {
  const span = view.startTime !== undefined ? (view.endTime ?? Date.now() / 1000) - view.startTime : view.timeRange;
  return Math.max(15, Math.ceil(span / 40));
}

export function FlowsHistogram({ view, tick }: { view: ViewState; tick: number }) {
  const step = stepOf(view);
  const q = `${view.recordsQuery}&aggregateBy=cluster&type=Flows&function=count&step=${step}s`;
  const { data } = useLoad(`${q}#${tick}`, (s) => getMetrics(q, s), q);
  const points = (data ?? []).flatMap((s) => s.values.map(([t, v]) => ({ x: new Date(t * 1000), y: Number(v), t })));
  if (!points.length) return null;
  const total = points.reduce((a, p) => a + p.y, 0);
  const pick = (t: number) => view.set({ startTime: String(t - step), endTime: String(t), timeRange: undefined });
  return (
    <div className="netobserv-chart netobserv-histogram" data-test="flows-histogram" data-total={total} style={{ height: 110 }}>
      <Chart
        ariaTitle="Flows over time"
        height={110}
        width={1200}
        scale={{ x: 'time' }}
        padding={{ left: 60, right: 20, top: 8, bottom: 28 }}
        domainPadding={{ x: 8 }}
      >
        <ChartAxis tickFormat={(t: Date) => t.toTimeString().slice(0, step < 60 ? 8 : 5)} tickCount={8} />
        <ChartAxis dependentAxis tickFormat={(t: number) => count(t)} tickCount={3} />
        <ChartBar
          data={points}
          barWidth={Math.max(2, (1120 / points.length) * 0.7)}
          events={[
            {
              target: 'data',
              eventHandlers: {
                onClick: () => [
                  {
                    target: 'data',
                    mutation: (props: { datum?: { t: number } }) => {
                      if (props.datum) pick(props.datum.t);
                      return null;
                    },
                  },
                ],
              },
            },
          ]}
        />
      </Chart>
    </div>
  );
}

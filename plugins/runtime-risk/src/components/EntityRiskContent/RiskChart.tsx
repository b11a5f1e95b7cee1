import { useLayoutEffect, useMemo, useRef, useState } from 'react';
import {
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { Typography } from '@material-ui/core';
import type { GateDecision } from '@runtime-risk/backstage-plugin-runtime-risk-common';

const PALETTE = ['#e22134', '#2e77d0', '#f5a623', '#1db954', '#9c27b0', '#607d8b'];

/** One row per decision time, one column per environment (score 0..100). */
export function toChartData(decisions: GateDecision[]): {
  rows: Array<Record<string, number>>;
  environments: string[];
} {
  const environments = [...new Set(decisions.map(d => d.environment))].sort();
  const rows = decisions
    .filter(d => d.score !== null && !Number.isNaN(Date.parse(d.evaluatedAt)))
    .map(d => ({ t: Date.parse(d.evaluatedAt), [d.environment]: d.score as number }))
    .sort((a, b) => a.t - b.t);
  return { rows, environments };
}

function formatTick(t: number): string {
  const d = new Date(t);
  return `${d.toISOString().slice(5, 10)} ${d.toISOString().slice(11, 16)}`;
}

/** Risk score over time per environment, from the decision history. */
export function RiskChart(props: { decisions: GateDecision[]; height?: number }) {
  const { rows, environments } = useMemo(() => toChartData(props.decisions), [props.decisions]);
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(720);
  useLayoutEffect(() => {
    const measure = () => {
      const w = ref.current?.clientWidth;
      if (w && w > 0) setWidth(w);
    };
    measure();
    window.addEventListener('resize', measure);
    return () => window.removeEventListener('resize', measure);
  }, []);

  if (rows.length === 0) {
    return (
      <Typography variant="body2" color="textSecondary">
        No scored decisions yet. The chart fills in as CI, the scaffolder or <code>POST /v1/gate</code>{' '}
        ask the gate about this entity.
      </Typography>
    );
  }
  return (
    <div ref={ref} style={{ width: '100%' }} data-testid="risk-chart" aria-label="risk over time chart">
      <LineChart width={width} height={props.height ?? 260} data={rows} margin={{ top: 8, right: 16, left: 0, bottom: 8 }}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis
          dataKey="t"
          type="number"
          scale="time"
          domain={['dataMin', 'dataMax']}
          tickFormatter={formatTick}
        />
        <YAxis domain={[0, 100]} />
        <Tooltip labelFormatter={(t: number) => new Date(t).toISOString()} />
        <Legend />
        {environments.map((env, i) => (
          <Line
            key={env}
            type="monotone"
            dataKey={env}
            name={env}
            stroke={PALETTE[i % PALETTE.length]}
            connectNulls
            dot
            isAnimationActive={false}
          />
        ))}
      </LineChart>
    </div>
  );
}

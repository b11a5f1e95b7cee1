import React, { useLayoutEffect, useMemo, useRef, useState } from 'react';
import { CartesianGrid, ComposedChart, Legend, Line, Scatter, Tooltip, XAxis, YAxis } from 'recharts';
import { Typography } from '@material-ui/core';
import type { GateDecision, RiskSnapshot } from '@runtime-risk/backstage-plugin-runtime-risk-common';

const PALETTE = ['#e22134', '#2e77d0', '#f5a623', '#1db954', '#9c27b0', '#607d8b'];
/** Decision markers by outcome: a shape each, so they never differ by colour alone. */
const MARKER_SHAPE: Record<string, 'circle' | 'triangle' | 'cross'> = {
  proceed: 'circle',
  approval_required: 'triangle',
  block: 'cross',
};

/** A point of a line (a score snapshot) or a marker (a gate decision). */
export interface ChartPoint {
  t: number;
  score: number;
  decision?: string;
}

export interface ChartData {
  environments: string[];
  /** Score snapshots per environment, oldest first (the lines). */
  lines: Record<string, ChartPoint[]>;
  /** Scored gate decisions per environment, oldest first (the markers). */
  markers: Record<string, ChartPoint[]>;
  /** The time axis: `since` to now when given, else the data's own range. */
  domain: [number | 'dataMin', number | 'dataMax'];
}

/** Lines from the score snapshots, markers from the gate decisions, both per environment. */
export function toChartData(input: { snapshots?: RiskSnapshot[]; decisions?: GateDecision[]; since?: string; now?: number }): ChartData {
  const snapshots = input.snapshots ?? [];
  const decisions = input.decisions ?? [];
  const sinceMs = input.since ? Date.parse(input.since) : NaN;
  const environments = [...new Set([...snapshots.map(s => s.environment), ...decisions.map(d => d.environment)])].sort();
  const lines: Record<string, ChartPoint[]> = {};
  const markers: Record<string, ChartPoint[]> = {};
  for (const env of environments) {
    lines[env] = snapshots
      .filter(s => s.environment === env && s.score !== null && !Number.isNaN(Date.parse(s.at)))
      .map(s => ({ t: Date.parse(s.at), score: s.score as number }))
      .sort((a, b) => a.t - b.t);
    markers[env] = decisions
      .filter(d => d.environment === env && d.score !== null && !Number.isNaN(Date.parse(d.evaluatedAt)))
      .map(d => ({ t: Date.parse(d.evaluatedAt), score: d.score as number, decision: d.decision }))
      .filter(p => Number.isNaN(sinceMs) || p.t >= sinceMs)
      .sort((a, b) => a.t - b.t);
  }
  const domain: ChartData['domain'] = Number.isNaN(sinceMs) ? ['dataMin', 'dataMax'] : [sinceMs, input.now ?? Date.now()];
  return { environments, lines, markers, domain };
}

/** Shown to screen readers only (the chart itself is hidden from them: this list says what it draws). */
const VISUALLY_HIDDEN: React.CSSProperties = {
  position: 'absolute',
  width: 1,
  height: 1,
  padding: 0,
  margin: -1,
  overflow: 'hidden',
  clip: 'rect(0 0 0 0)',
  whiteSpace: 'nowrap',
  border: 0,
};

const OUTCOME_WORD: Record<string, string> = { proceed: 'proceed', approval_required: 'approval required', block: 'block' };

function formatTick(t: number): string {
  const d = new Date(t);
  return `${d.toISOString().slice(5, 10)} ${d.toISOString().slice(11, 16)}`;
}

/**
 * Risk score over time per environment: a line from the stored score snapshots
 * (every change, at least hourly), with the gate's decisions as markers on it
 * (a shape per outcome). A service nobody has deployed yet still has a line.
 */
export function RiskChart(props: {
  snapshots?: RiskSnapshot[];
  decisions?: GateDecision[];
  /** Start of the window (the history's `since`); the axis runs from it to now. */
  since?: string;
  height?: number;
}) {
  const data = useMemo(
    () => toChartData({ snapshots: props.snapshots, decisions: props.decisions, since: props.since }),
    [props.snapshots, props.decisions, props.since],
  );
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

  const points = data.environments.reduce((n, env) => n + data.lines[env].length + data.markers[env].length, 0);
  if (points === 0) {
    return (
      <Typography variant="body2" color="textSecondary">
        No scores recorded yet. The backend stores this entity's score when it changes and at least hourly; gate
        decisions show as markers on the line.
      </Typography>
    );
  }
  const decisionCount = data.environments.reduce((n, env) => n + data.markers[env].length, 0);
  const at = (t: number) => `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return (
    <div ref={ref} style={{ width: '100%', position: 'relative' }} data-testid="risk-chart" role="figure" aria-label="risk over time chart">
      {/* The drawing is hidden from assistive technology (recharts gives each marker an unnamed role="img");
          the caption and the list below say in words what it shows: status never by colour or shape alone. */}
      <div aria-hidden="true">
        <ComposedChart width={width} height={props.height ?? 260} margin={{ top: 8, right: 16, left: 0, bottom: 8 }}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="t" type="number" scale="time" domain={data.domain} tickFormatter={formatTick} allowDataOverflow />
          <YAxis dataKey="score" domain={[0, 100]} />
          <Tooltip labelFormatter={(t: number) => new Date(t).toISOString()} />
          <Legend />
          {data.environments.map((env, i) => (
            <Line
              key={`line-${env}`}
              data={data.lines[env]}
              type="stepAfter"
              dataKey="score"
              name={env}
              stroke={PALETTE[i % PALETTE.length]}
              // a line of one or two snapshots (a service just scored) would draw next to nothing
              dot={data.lines[env].length < 3}
              isAnimationActive={false}
            />
          ))}
          {data.environments.flatMap((env, i) =>
            Object.keys(MARKER_SHAPE)
              .map(outcome => ({ outcome, points: data.markers[env].filter(p => p.decision === outcome) }))
              .filter(group => group.points.length > 0)
              .map(group => (
                <Scatter
                  key={`decisions-${env}-${group.outcome}`}
                  data={group.points}
                  dataKey="score"
                  name={`${env} gate: ${group.outcome.replace('_', ' ')}`}
                  fill={PALETTE[i % PALETTE.length]}
                  shape={MARKER_SHAPE[group.outcome]}
                  isAnimationActive={false}
                />
              )),
          )}
        </ComposedChart>
      </div>
      <Typography variant="caption" color="textSecondary" data-testid="risk-chart-caption">
        {data.environments
          .map(env => `${env}: ${data.lines[env].length} score ${data.lines[env].length === 1 ? 'point' : 'points'}`)
          .join(', ')}
        {decisionCount === 0 ? '; no gate decisions in this window' : `; ${decisionCount} gate ${decisionCount === 1 ? 'decision' : 'decisions'} marked`}
      </Typography>
      <ul style={VISUALLY_HIDDEN} aria-label="risk over time, in words">
        {data.environments.map(env => {
          const line = data.lines[env];
          const last = line[line.length - 1];
          const scores = line.map(p => p.score);
          return (
            <li key={`line-${env}`}>
              {line.length === 0
                ? `${env}: no score recorded`
                : `${env}: score ${last.score} at ${at(last.t)} (lowest ${Math.min(...scores)}, highest ${Math.max(...scores)} in ${line.length} ${line.length === 1 ? 'point' : 'points'})`}
            </li>
          );
        })}
        {data.environments.flatMap(env =>
          data.markers[env].map((p, i) => (
            <li key={`decision-${env}-${i}`}>
              {`${env} gate decision at ${at(p.t)}: ${OUTCOME_WORD[p.decision ?? ''] ?? p.decision}, score ${p.score}`}
            </li>
          )),
        )}
      </ul>
    </div>
  );
}

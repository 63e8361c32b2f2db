// Figures read from the gateway's /metrics (Prometheus text): the latency histogram and the query rate.
// They use the gateway's own search series (shoal_gateway_search_duration_milliseconds), which every
// gateway records; the coordinator's shoal_query_* series live in the silos in --Mode client.
import { metrics } from '/ui/api.js';

const LATENCY = 'shoal_gateway_search_duration_milliseconds';

/** Buckets of the gateway's search latency summed over indexes and outcomes: {labels, counts}, not cumulative. */
export function latencyBuckets(samples, index) {
  const byLe = new Map();
  for (const s of samples) {
    if (s.name !== `${LATENCY}_bucket`) continue;
    if (index && s.labels.index !== index) continue;
    byLe.set(s.labels.le, (byLe.get(s.labels.le) ?? 0) + s.value);
  }
  const les = [...byLe.keys()].filter(le => le !== '+Inf').map(Number).sort((a, b) => a - b);
  const labels = [], counts = [];
  let previous = 0;
  for (const le of les) {
    const cumulative = byLe.get(String(le)) ?? byLe.get(le.toString()) ?? 0;
    labels.push(le < 1 ? `${le}` : `${le}`);
    counts.push(cumulative - previous);
    previous = cumulative;
  }
  const inf = byLe.get('+Inf');
  if (inf !== undefined) { labels.push('>'); counts.push(inf - previous); }
  return { labels: labels.map((l, i) => i === labels.length - 1 && l === '>' ? `>${les.at(-1)}` : `≤${l}`), counts };
}

/** Total searches answered by this gateway (the latency histogram's count over every index and outcome). */
export function totalQueries(samples) {
  return samples.filter(s => s.name === `${LATENCY}_count`).reduce((a, s) => a + s.value, 0);
}

/** Polls /metrics and keeps the query rate over time: call sample() every few seconds. */
export class QueryRate {
  constructor() { this.points = []; this.last = null; }
  async sample() {
    const samples = await metrics();
    const now = performance.now() / 1000, total = totalQueries(samples);
    if (this.last) {
      const dt = now - this.last.t;
      if (dt > 0) this.points.push([now, Math.max(0, (total - this.last.total) / dt)]);
      if (this.points.length > 90) this.points.shift();
    }
    this.last = { t: now, total };
    return samples;
  }
}

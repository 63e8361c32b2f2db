// Figures read from the gateway's /metrics (Prometheus text): the latency histogram and the query rate.
import { metrics } from '/ui/api.js';

/** Buckets of shoal_query_duration_milliseconds summed over indexes and channels: {labels, counts}, not cumulative. */
export function latencyBuckets(samples, index) {
  const byLe = new Map();
  for (const s of samples) {
    if (s.name !== 'shoal_query_duration_milliseconds_bucket') continue;
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

/** Total searches answered (shoal_queries_total over every index and outcome). */
export function totalQueries(samples) {
  return samples.filter(s => s.name === 'shoal_queries_total').reduce((a, s) => a + s.value, 0);
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

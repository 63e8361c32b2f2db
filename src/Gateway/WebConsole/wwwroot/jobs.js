// Jobs: a table row with a progress bar and ETA, and the progress of running jobs over time.
import { el, int, duration, time } from '/ui/format.js';
import { lines } from '/ui/plots.js';

/** Fraction done: bytes while reading (when the size is known), shards while building, 1 when finished. */
export function fraction(job) {
  if (job.state === 'succeeded') return 1;
  const shards = job.request?.shards || 1;
  if (job.phase === 'reading') return job.totalBytes > 0 ? 0.8 * Math.min(1, job.bytesRead / job.totalBytes) : 0;
  if (job.phase === 'building') return 0.8 + 0.15 * (job.shardsBuilt / shards);
  if (job.phase === 'publishing' || job.phase === 'activating') return 0.97;
  return 0;
}

export function stateClass(state) {
  return state === 'succeeded' ? 'pill good' : state === 'failed' || state === 'cancelled' ? 'pill bad' : 'pill warn';
}

export function jobRow(job) {
  const f = fraction(job);
  return el('tr', { class: 'job', 'data-job': job.id, 'data-state': job.state },
    el('td', {}, el('code', {}, job.id)), el('td', {}, job.request?.index ?? ''),
    el('td', {}, el('span', { class: stateClass(job.state) + ' job-state' }, job.state)), el('td', {}, job.phase),
    el('td', {}, el('div', { class: 'progress', title: `${(f * 100).toFixed(0)}%` }, el('span', { style: `width:${(f * 100).toFixed(1)}%` })),
      el('span', { class: 'muted job-percent' }, `${(f * 100).toFixed(0)}%`)),
    el('td', { class: 'num' }, int(job.documentsRead)), el('td', { class: 'num' }, int(job.docsPerSecond)),
    el('td', {}, job.state === 'running' ? duration(job.etaSeconds) : '–'), el('td', { class: 'muted' }, time(job.createdUtc)));
}

const colors = ['#1f6feb', '#12b76a', '#f79009', '#9e77ed', '#ef6820'];

/** Progress of jobs seen while the page is open, drawn as percent over time. */
export class JobHistory {
  constructor() { this.series = new Map(); }
  add(jobs) {
    const now = performance.now() / 1000;
    for (const job of jobs) {
      const known = this.series.get(job.id);
      if (!known && job.state !== 'running' && job.state !== 'queued') continue;
      const s = known ?? { id: job.id, color: colors[this.series.size % colors.length], points: [] };
      const last = s.points.at(-1);
      if (!last || last[1] < 100) s.points.push([now, fraction(job) * 100]);
      this.series.set(job.id, s);
    }
  }
  plot(canvas, legend) {
    const series = [...this.series.values()].slice(-5);
    lines(canvas, series, { format: v => `${v.toFixed(0)}%`, maxY: 100, empty: 'start a job to see its progress' });
    legend?.replaceChildren(...series.map(s => el('span', {}, el('i', { style: `background:${s.color}` }), s.id)));
  }
}

// Cluster page: silos, the shard map per replica, encoder pools, jobs with live progress and ETA,
// merges and pending updates; query rate and latency plots. Refreshes every two seconds.
import { get } from '/ui/api.js';
import { el, bytes, int, duration, time, siloLabel, siloColor } from '/ui/format.js';
import { histogram, lines } from '/ui/plots.js';
import { latencyBuckets, QueryRate } from '/ui/telemetry.js';
import { jobRow, JobHistory } from '/ui/jobs.js';

export async function clusterPage(root, say) {
  const silos = el('div', { id: 'silos' });
  const shardMaps = el('div', { id: 'shard-map' });
  const pools = el('div', { id: 'encoder-pools' });
  const jobs = el('div', { id: 'jobs' });
  const updates = el('div', { id: 'updates' });
  const rate = el('canvas', { class: 'plot', id: 'rate-plot' });
  const latency = el('canvas', { class: 'plot', id: 'latency-plot' });
  const progress = el('canvas', { class: 'plot', id: 'job-plot' });
  const progressLegend = el('div', { class: 'legend' });
  root.append(el('h1', {}, 'Cluster'),
    el('div', { class: 'row' },
      el('div', { class: 'card' }, el('h2', {}, 'Silos'), silos),
      el('div', { class: 'card' }, el('h2', {}, 'Query rate (searches/s)'), rate),
      el('div', { class: 'card' }, el('h2', {}, 'Search latency'), latency)),
    el('div', { class: 'card' }, el('h2', {}, 'Shard map'), shardMaps),
    el('div', { class: 'row' },
      el('div', { class: 'card' }, el('h2', {}, 'Online updates and merges'), updates),
      el('div', { class: 'card' }, el('h2', {}, 'Encoder pools'), pools)),
    el('div', { class: 'card' }, el('h2', {}, 'Jobs'), jobs, el('h2', { style: 'margin-top:10px' }, 'Job progress'), progressLegend, progress));

  const queryRate = new QueryRate();
  const poolCounts = new Map(); // encoder@silo -> {t, texts, batches} at the last refresh
  const history = new JobHistory();
  let stopped = false, timer = null;

  async function refresh() {
    try {
      const [status, samples] = await Promise.all([get('/v1/cluster'), queryRate.sample()]);
      render(status);
      lines(rate, [{ color: '#1f6feb', points: queryRate.points }], { format: v => v.toFixed(v < 2 ? 2 : v < 10 ? 1 : 0), empty: 'measuring…' });
      const { labels, counts } = latencyBuckets(samples);
      histogram(latency, labels.map(l => l + ' ms'), counts, { empty: 'no searches yet' });
      history.add(status.jobs);
      history.plot(progress, progressLegend);
      say(`cluster status at ${time(status.takenUtc)}`);
    } catch (e) {
      say(e.message, true);
    }
    if (!stopped) timer = setTimeout(refresh, 2000);
  }

  function render(status) {
    silos.replaceChildren(el('table', {},
      el('thead', {}, el('tr', {}, ['silo', 'name', 'status', 'roles', 'encoders', 'started'].map(h => el('th', {}, h)))),
      el('tbody', {}, status.silos.map(s => el('tr', { class: 'silo' },
        el('td', {}, el('span', { class: 'pill', style: `background:${siloColor(s.address)};color:#fff` }, siloLabel(s.address))),
        el('td', {}, s.name), el('td', {}, el('span', { class: s.status === 'Active' ? 'pill good' : 'pill warn' }, s.status)),
        el('td', { class: 'silo-roles' }, s.roles.join(', ') || '–'), el('td', {}, s.encoders.join(', ') || '–'), el('td', { class: 'muted' }, time(s.startedUtc)))))));

    shardMaps.replaceChildren(...(status.indexes.length ? status.indexes.map(ix => el('div', { style: 'margin-bottom:10px' },
      el('div', { class: 'meta' }, el('a', { href: `#/index/${encodeURIComponent(ix.name)}` }, el('b', {}, ix.name)),
        el('span', {}, `v${ix.version}`), el('span', {}, `${int(ix.documents)} documents`), el('span', {}, `${ix.shardCount} shards × ${ix.replicas} replicas`), el('span', {}, ix.channels.join(', '))),
      el('div', { class: 'shardmap' }, ix.shards.map(s => el('div', { class: 'shard', 'data-index': ix.name, 'data-shard': s.shard, 'data-replica': s.replica, style: `--silo:${siloColor(s.silo)}` },
        el('div', { class: 'name' }, `shard ${s.shard}`, ix.replicas > 1 ? ` · replica ${s.replica}` : ''),
        s.error ? el('div', { class: 'pill bad' }, s.error) : [
          el('div', {}, 'silo ', el('b', { class: 'silo-of-shard' }, siloLabel(s.silo))),
          el('div', {}, `v${s.version} · ${int(s.documents)} docs · ${bytes(s.segmentBytes)}`),
          s.liveDocuments || s.hiddenDocuments ? el('div', { class: 'muted' }, `live buffer: ${int(s.liveDocuments)} upserted, ${int(s.hiddenDocuments)} hidden`) : '',
        ]))))) : [el('p', { class: 'muted' }, 'No index has a published version yet.')]));

    updates.replaceChildren(el('table', {},
      el('thead', {}, el('tr', {}, ['index', 'pending operations', 'batches', 'merge'].map(h => el('th', {}, h)))),
      el('tbody', {}, status.indexes.map(ix => {
        const m = ix.updates?.merge;
        return el('tr', {}, el('td', {}, ix.name), el('td', { class: 'num' }, int(ix.updates?.pendingOperations ?? 0)), el('td', { class: 'num' }, int(ix.updates?.pendingBatches ?? 0)),
          el('td', {}, m ? el('span', { class: m.state === 'running' ? 'pill warn' : m.state === 'failed' ? 'pill bad' : 'pill good' }, `${m.state} · ${m.phase}${m.version ? ' · v' + m.version : ''}`) : el('span', { class: 'muted' }, 'none'))
        );
      }))));

    // Throughput: texts and batches per second between this refresh and the previous one.
    const now = performance.now() / 1000;
    const rates = new Map();
    for (const p of status.encoderPools) {
      const key = `${p.encoder}@${p.silo}`, last = poolCounts.get(key);
      if (last && now > last.t && p.itemsProcessed >= last.texts)
        rates.set(key, { texts: (p.itemsProcessed - last.texts) / (now - last.t), batches: (p.batchesRun - last.batches) / (now - last.t) });
      poolCounts.set(key, { t: now, texts: p.itemsProcessed, batches: p.batchesRun });
    }
    const rate1 = v => v === undefined ? '…' : v.toFixed(v < 10 ? 1 : 0);
    pools.replaceChildren(status.encoderPools.length ? el('table', {},
      el('thead', {}, el('tr', {}, ['encoder', 'silo', 'queue', 'texts/s', 'batches/s', 'batches', 'texts', 'avg batch', 'rejected'].map(h => el('th', {}, h)))),
      el('tbody', {}, status.encoderPools.map(p => {
        const r = rates.get(`${p.encoder}@${p.silo}`);
        return el('tr', { class: 'pool', 'data-encoder': p.encoder }, el('td', {}, p.encoder), el('td', {}, siloLabel(p.silo)),
          el('td', { class: 'num' }, `${p.queueLength}/${p.queueCapacity}`),
          el('td', { class: 'num pool-texts-rate', 'data-rate': r ? String(r.texts) : '' }, rate1(r?.texts)), el('td', { class: 'num' }, rate1(r?.batches)),
          el('td', { class: 'num' }, int(p.batchesRun)), el('td', { class: 'num pool-texts' }, int(p.itemsProcessed)),
          el('td', { class: 'num' }, p.averageBatch.toFixed(1)), el('td', { class: 'num' }, int(p.itemsRejected)));
      })))
      : el('p', { class: 'muted' }, 'No silo holds the encoder role.'));

    jobs.replaceChildren(status.jobs.length ? el('table', {},
      el('thead', {}, el('tr', {}, ['job', 'index', 'state', 'phase', 'progress', 'documents', 'docs/s', 'ETA', 'started'].map(h => el('th', {}, h)))),
      el('tbody', {}, status.jobs.map(jobRow))) : el('p', { class: 'muted' }, 'No jobs yet.'));
  }

  await refresh();
  return () => { stopped = true; clearTimeout(timer); };
}

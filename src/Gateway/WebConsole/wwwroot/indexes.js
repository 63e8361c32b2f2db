// Index page: schema and channels, versions with snapshot size and time, merge and start-job controls.
import { get, post } from '/ui/api.js';
import { el, bytes, int, time } from '/ui/format.js';
import { jobRow, JobHistory } from '/ui/jobs.js';

export async function indexPage(root, say, name) {
  const { indexes } = await get('/v1/indexes');
  if (!name) name = localStorage.getItem('shoal.index') ?? indexes[0] ?? '';
  const picker = el('select', { id: 'index', 'aria-label': 'index', onchange: () => { location.hash = `#/index/${encodeURIComponent(picker.value)}`; } },
    [...new Set([...indexes, name].filter(Boolean))].map(n => el('option', { value: n, text: n })));
  picker.value = name;
  const schema = el('div', { id: 'schema' });
  const versions = el('div', { id: 'versions' });
  const merge = el('div', { id: 'merge-status', class: 'muted' });
  const jobTable = el('div', { id: 'job-status' });
  const plot = el('canvas', { class: 'plot', id: 'job-plot' });
  const legend = el('div', { class: 'legend' });

  const source = el('input', { id: 'job-source', type: 'text', size: 48, placeholder: '/data/corpus.jsonl or store:key' });
  const target = el('input', { id: 'job-index', type: 'text', size: 16, value: name });
  const shards = el('input', { id: 'job-shards', type: 'number', min: 1, max: 1024, value: 2 });
  const replicas = el('input', { id: 'job-replicas', type: 'number', min: 1, max: 8, value: 1 });
  const startJob = el('button', { id: 'start-job', type: 'submit' }, 'Start job');
  const mergeButton = el('button', { id: 'merge', type: 'button', class: 'secondary', onclick: () => runMerge() }, 'Merge pending updates');

  root.append(el('h1', {}, 'Index ', picker),
    el('div', { class: 'row' },
      el('div', { class: 'card' }, el('h2', {}, 'Schema and channels'), schema),
      el('div', { class: 'card' }, el('h2', {}, 'Versions in the snapshot store'), versions)),
    el('div', { class: 'row' },
      el('div', { class: 'card' }, el('h2', {}, 'Merge'), el('p', { class: 'muted' }, 'Folds online updates into a new snapshotted version; searches and updates go on meanwhile.'), mergeButton, ' ', merge),
      el('div', { class: 'card' }, el('h2', {}, 'Start an indexing job'),
        el('form', { class: 'query', onsubmit: e => { e.preventDefault(); submitJob(); } },
          el('label', {}, 'source ', source), el('label', {}, 'index ', target), el('label', {}, 'shards ', shards), el('label', {}, 'replicas ', replicas), startJob),
        jobTable, legend, plot)));

  let stopped = false, timer = null, jobId = null;
  const history = new JobHistory();

  async function load() {
    if (!name) { schema.textContent = 'No index yet: start a job to build one.'; return; }
    try {
      const info = await get(`/v1/indexes/${encodeURIComponent(name)}`);
      schema.replaceChildren(
        el('div', { class: 'meta' }, el('span', {}, 'version ', el('b', {}, info.version)), el('span', {}, el('b', {}, int(info.docCount)), ' documents'),
          el('span', {}, el('b', {}, info.shardCount), ' shards × ', el('b', {}, info.replicas), ' replicas'), el('span', {}, `BM25 k1 ${info.k1} b ${info.b}`)),
        el('table', { id: 'channels' }, el('thead', {}, el('tr', {}, ['channel', 'encoder', 'details'].map(h => el('th', {}, h)))),
          el('tbody', {}, info.channels.map(c => el('tr', {}, el('td', {}, el('b', {}, c.name)), el('td', {}, c.encoder ?? '–'),
            el('td', { class: 'muted' }, c.name === 'dense' ? `${c.dims} dims · ${c.metric} · ${c.storage} · ${c.annIndex}`
              : c.name === 'sparse' ? `${int(c.vocabularySize)} tokens · max weight ${c.maxWeight?.toFixed?.(2) ?? '–'}` : 'English analysis, BM25'))))),
        el('div', { class: 'muted', style: 'margin-top:6px' }, `pending updates: ${int(info.updates?.pendingOperations ?? 0)} operations in ${int(info.updates?.pendingBatches ?? 0)} batches`));
      const m = info.updates?.merge;
      merge.textContent = m ? `last merge: ${m.state} (${m.phase})${m.version ? ', version ' + m.version : ''}${m.error ? ': ' + m.error : ''}` : 'no merge has run on this activation';
      const v = await get(`/v1/indexes/${encodeURIComponent(name)}/versions`);
      versions.replaceChildren(el('table', {}, el('thead', {}, el('tr', {}, ['version', 'published', 'documents', 'shards', 'snapshot size', 'segments', 'channels'].map(h => el('th', {}, h)))),
        el('tbody', {}, v.versions.map(x => el('tr', { class: 'version' }, el('td', {}, el('b', {}, x.version), x.version === info.version ? el('span', { class: 'pill good', style: 'margin-left:6px' }, 'serving') : ''),
          x.error ? el('td', { colspan: 6, class: 'muted' }, x.error) : [
            el('td', {}, time(x.createdUtc)), el('td', { class: 'num' }, int(x.documents)), el('td', { class: 'num' }, x.shards),
            el('td', { class: 'num' }, bytes(x.snapshotBytes)), el('td', { class: 'num' }, x.segments), el('td', {}, x.channels.join(', '))])))));
    } catch (e) {
      schema.replaceChildren(el('div', { class: 'banner error' }, e.message));
      versions.replaceChildren();
    }
  }

  async function runMerge() {
    try {
      const status = await post(`/v1/indexes/${encodeURIComponent(name)}/merge`);
      merge.textContent = `merge ${status.state} (${status.phase})`;
      say(`merge of ${name}: ${status.state}`);
      setTimeout(followMerge, 1000);
    } catch (e) { merge.textContent = e.message; say(e.message, true); }
  }

  // Follows a merge until it ends, then reloads the page's figures (the new version, no pending updates).
  async function followMerge() {
    try {
      const m = (await get(`/v1/indexes/${encodeURIComponent(name)}`)).updates?.merge;
      if (m?.state === 'running') {
        merge.textContent = `merge running (${m.phase})`;
        setTimeout(followMerge, 1000);
        return;
      }
      await load();
      if (m) say(`merge of ${name}: ${m.state}`, m.state === 'failed');
    } catch (e) { say(e.message, true); }
  }

  async function submitJob() {
    startJob.disabled = true;
    try {
      const job = await post('/v1/jobs', { index: target.value.trim(), source: source.value.trim(), shards: Number(shards.value), replicas: Number(replicas.value) });
      jobId = job.id;
      say(`job ${job.id} submitted`);
      poll();
    } catch (e) {
      jobTable.replaceChildren(el('div', { class: 'banner error', id: 'job-error' }, e.message));
      say(e.message, true);
      startJob.disabled = false;
    }
  }

  async function poll() {
    clearTimeout(timer);
    if (stopped || !jobId) return;
    try {
      const job = await get(`/v1/jobs/${encodeURIComponent(jobId)}`);
      history.add([job]);
      history.plot(plot, legend);
      jobTable.replaceChildren(el('table', {}, el('thead', {}, el('tr', {}, ['job', 'index', 'state', 'phase', 'progress', 'documents', 'docs/s', 'ETA', 'started'].map(h => el('th', {}, h)))),
        el('tbody', {}, jobRow(job))),
        job.error ? el('div', { class: 'banner error' }, job.error) : '');
      if (job.state === 'running' || job.state === 'queued') { timer = setTimeout(poll, 1000); return; }
      startJob.disabled = false;
      say(`job ${job.id} ${job.state}`);
      if (job.state === 'succeeded' && job.request.index === name) load();
    } catch (e) { say(e.message, true); timer = setTimeout(poll, 2000); }
  }

  history.plot(plot, legend);
  await load();
  return () => { stopped = true; clearTimeout(timer); };
}

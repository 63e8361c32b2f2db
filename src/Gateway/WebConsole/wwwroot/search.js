// Search page: index picker, query box, channel toggles, fusion settings; hits with fused score and
// each channel's rank; coverage, time and why an answer is partial; the latency histogram.
import { get, post } from '/ui/api.js';
import { el, ms, int } from '/ui/format.js';
import { histogram } from '/ui/plots.js';
import { latencyBuckets } from '/ui/telemetry.js';
import { metrics } from '/ui/api.js';

const CHANNELS = ['bm25', 'sparse', 'dense'];

export async function searchPage(root, say) {
  const { indexes } = await get('/v1/indexes');
  const picker = el('select', { id: 'index', 'aria-label': 'index' }, indexes.map(n => el('option', { value: n, text: n })));
  const remembered = localStorage.getItem('shoal.index');
  if (remembered && indexes.includes(remembered)) picker.value = remembered;
  const box = el('input', { type: 'search', id: 'query', placeholder: 'Search…', autocomplete: 'off', 'aria-label': 'query' });
  const k = el('input', { type: 'number', id: 'k', min: 1, max: 1000, value: 10, 'aria-label': 'k' });
  const toggles = Object.fromEntries(CHANNELS.map(c => [c, el('input', { type: 'checkbox', id: `ch-${c}`, value: c })]));
  const method = el('select', { id: 'fusion' }, el('option', { value: 'rrf', text: 'RRF' }), el('option', { value: 'weighted', text: 'weighted' }));
  const rankConstant = el('input', { type: 'number', id: 'rank-constant', min: 1, value: 60, title: 'RRF rank constant' });
  const weights = Object.fromEntries(CHANNELS.map(c => [c, el('input', { type: 'number', id: `w-${c}`, min: 0, step: 0.1, value: 1, title: `${c} weight` })]));
  const schemaLine = el('div', { class: 'muted', id: 'schema' });
  const results = el('div', { id: 'results' });
  const latency = el('canvas', { class: 'plot', id: 'latency-plot' });

  const form = el('form', { class: 'query', onsubmit: e => { e.preventDefault(); run(); } },
    el('label', {}, 'Index ', picker), box, el('label', {}, 'k ', k), el('button', { type: 'submit', id: 'go' }, 'Search'));
  const settings = el('div', { class: 'row', style: 'margin-top:10px;gap:10px' },
    el('fieldset', {}, el('legend', {}, 'channels'), CHANNELS.map(c => el('label', { style: 'margin-right:10px' }, toggles[c], ' ', c))),
    el('fieldset', {}, el('legend', {}, 'fusion'), method, ' k ', rankConstant),
    el('fieldset', {}, el('legend', {}, 'weights'), CHANNELS.map(c => el('label', { style: 'margin-right:6px' }, `${c} `, weights[c]))));

  root.append(el('h1', {}, 'Search'),
    el('div', { class: 'card' }, form, settings, schemaLine),
    el('div', { class: 'card' }, results),
    el('div', { class: 'card' }, el('h2', {}, 'Search latency (all searches on this gateway, from /metrics)'), latency));

  async function describe() {
    localStorage.setItem('shoal.index', picker.value);
    if (!picker.value) { schemaLine.textContent = 'No index has a published version yet.'; return; }
    const info = await get(`/v1/indexes/${encodeURIComponent(picker.value)}`);
    for (const c of CHANNELS) {
      const channel = info.channels.find(x => x.name === c);
      const takesText = channel && (c === 'bm25' || channel.encoder);
      toggles[c].disabled = !takesText;
      toggles[c].checked = !!takesText;
      toggles[c].parentElement.title = !channel ? `index has no ${c} channel` : takesText ? '' : `${c} has no encoder: it needs a query vector`;
    }
    schemaLine.textContent = `version ${info.version} · ${int(info.docCount)} documents · ${info.shardCount} shards × ${info.replicas} replicas · channels: ${info.channels.map(c => c.name + (c.encoder ? ` (${c.encoder})` : '')).join(', ')}`;
  }

  async function run() {
    const text = box.value.trim();
    if (!text) { say('Type a query first.', true); return; }
    const channels = CHANNELS.filter(c => toggles[c].checked && !toggles[c].disabled);
    const body = { text, k: Number(k.value) || 10 };
    if (channels.length) body.channels = channels;
    if (channels.length > 1) {
      body.fusion = { method: method.value, weights: Object.fromEntries(channels.map(c => [c, Number(weights[c].value)])) };
      if (method.value === 'rrf') body.fusion.rankConstant = Number(rankConstant.value) || 60;
    }
    results.replaceChildren(el('span', { class: 'muted' }, 'searching…'));
    try {
      const started = performance.now();
      const r = await post(`/v1/indexes/${encodeURIComponent(picker.value)}/search`, body);
      show(r, performance.now() - started);
      say(`searched ${r.index} v${r.version}`);
    } catch (e) {
      results.replaceChildren(el('div', { class: 'banner error', id: 'search-error' }, e.message));
      say(e.message, true);
    }
    refreshLatency();
  }

  function show(r, roundTrip) {
    const c = r.coverage;
    const meta = el('div', { class: 'meta', id: 'result-meta' },
      el('span', {}, el('b', {}, r.hits.length), ' hits'),
      el('span', { id: 'coverage' }, 'coverage ', el('b', {}, `${c.answered}/${c.shards}`), ' shards'),
      el('span', { id: 'took' }, 'took ', el('b', {}, ms(r.tookMs)), ` (round trip ${ms(roundTrip)})`),
      el('span', {}, 'channels ', el('b', {}, r.channels.join(' + ') || '–')),
      el('span', {}, 'version ', el('b', {}, r.version)));
    const partial = c.partial
      ? el('div', { class: 'banner partial', id: 'partial' }, el('b', {}, 'Partial answer: '),
          `${c.shards - c.answered} of ${c.shards} shards did not answer. `,
          el('ul', {}, (c.reasons?.length ? c.reasons : c.missing.map(s => `shard ${s}`)).map(x => el('li', {}, x))))
      : null;
    const table = el('table', { id: 'hits' },
      el('thead', {}, el('tr', {}, el('th', { class: 'num' }, '#'), el('th', {}, 'document'), el('th', { class: 'num' }, r.channels.length > 1 ? 'fused score' : 'score'),
        el('th', {}, 'rank per channel'))),
      el('tbody', {}, r.hits.map((h, i) => el('tr', { class: 'hit' },
        el('td', { class: 'num' }, i + 1),
        el('td', {}, el('div', { class: 'title' }, h.title || h.id), el('div', { class: 'snippet' }, h.snippet ?? ''), el('div', { class: 'muted' }, h.id)),
        el('td', { class: 'num score' }, h.score.toFixed(4)),
        el('td', {}, r.channels.map((ch, j) => {
          const rank = h.ranks?.[j] ?? 0;
          return el('span', { class: rank ? 'rank' : 'rank none', title: `${ch} rank` }, `${ch} ${rank ? '#' + rank : '–'}`);
        }))))));
    results.replaceChildren(meta, partial ?? '', r.hits.length ? table : el('p', { class: 'muted' }, 'No document matches.'));
  }

  async function refreshLatency() {
    try {
      const { labels, counts } = latencyBuckets(await metrics());
      histogram(latency, labels.map(l => l + ' ms'), counts, { empty: 'no searches yet' });
    } catch (e) { say(`metrics: ${e.message}`, true); }
  }

  picker.addEventListener('change', () => describe().catch(e => say(e.message, true)));
  await describe();
  refreshLatency();
  box.focus();
  return null;
}

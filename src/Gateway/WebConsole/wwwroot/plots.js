// Plots drawn by hand on a canvas: a histogram and line series. No library.
function setup(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 400, height = canvas.clientHeight || 160;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const g = canvas.getContext('2d');
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  g.font = '11px system-ui, sans-serif';
  return { g, width, height };
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function axes(g, left, top, right, bottom, max, format) {
  g.strokeStyle = '#e3e6eb';
  g.fillStyle = '#667085';
  g.textAlign = 'right';
  g.textBaseline = 'middle';
  for (let i = 0; i <= 4; i++) {
    const y = bottom - (bottom - top) * i / 4;
    g.beginPath(); g.moveTo(left, y); g.lineTo(right, y); g.stroke();
    g.fillText(format(max * i / 4), left - 4, y);
  }
}

/** Bars: labels under each bar, counts as heights. */
export function histogram(canvas, labels, counts, { color = '#1f6feb', empty = 'no data yet' } = {}) {
  const { g, width, height } = setup(canvas);
  const left = 40, right = width - 8, top = 10, bottom = height - 22;
  const max = niceMax(Math.max(0, ...counts));
  // What was drawn, for tests and for anyone inspecting the page: bars with a count, their total.
  canvas.dataset.bars = String(counts.filter(c => c > 0).length);
  canvas.dataset.total = String(counts.reduce((a, c) => a + c, 0));
  axes(g, left, top, right, bottom, max, v => Number.isInteger(v) ? String(v) : v.toFixed(1));
  if (!counts.some(c => c > 0)) {
    g.textAlign = 'center'; g.fillText(empty, (left + right) / 2, (top + bottom) / 2);
    return;
  }
  const slot = (right - left) / counts.length;
  // Label every bar when there is room, else every second, third... so labels never overlap.
  const widest = Math.max(...labels.map(l => g.measureText(l).width)) + 6;
  const every = Math.max(1, Math.ceil(widest / slot));
  g.textAlign = 'center'; g.textBaseline = 'top';
  counts.forEach((c, i) => {
    const h = (bottom - top) * c / max;
    g.fillStyle = color;
    g.fillRect(left + i * slot + 2, bottom - h, Math.max(1, slot - 4), h);
    g.fillStyle = '#667085';
    if (i % every === 0) g.fillText(labels[i], left + i * slot + slot / 2, bottom + 4);
  });
}

/** Lines: series [{color, points: [[t, v]...]}] over a shared time axis (seconds). */
export function lines(canvas, series, { format = v => v.toFixed(1), empty = 'no data yet', maxY } = {}) {
  const { g, width, height } = setup(canvas);
  const left = 48, right = width - 8, top = 10, bottom = height - 20;
  const all = series.flatMap(s => s.points);
  const max = maxY ?? niceMax(Math.max(0, ...all.map(p => p[1])));
  // What was drawn: points and the largest value.
  canvas.dataset.points = String(all.length);
  canvas.dataset.max = String(Math.max(0, ...all.map(p => p[1])));
  axes(g, left, top, right, bottom, max, format);
  if (all.length < 2) {
    g.textAlign = 'center'; g.fillStyle = '#667085'; g.fillText(empty, (left + right) / 2, (top + bottom) / 2);
    return;
  }
  const t0 = Math.min(...all.map(p => p[0])), t1 = Math.max(...all.map(p => p[0]));
  const span = Math.max(1, t1 - t0);
  g.fillStyle = '#667085'; g.textBaseline = 'top';
  g.textAlign = 'left'; g.fillText(`-${Math.round(span)} s`, left, bottom + 4);
  g.textAlign = 'right'; g.fillText('now', right, bottom + 4);
  for (const s of series) {
    if (s.points.length === 0) continue;
    g.strokeStyle = s.color; g.lineWidth = 2; g.beginPath();
    s.points.forEach(([t, v], i) => {
      const x = left + (right - left) * (t - t0) / span;
      const y = bottom - (bottom - top) * Math.min(v, max) / max;
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
  }
}

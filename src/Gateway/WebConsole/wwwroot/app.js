// The console shell: hash routes (#/search, #/cluster, #/index/<name>), the API key field and the status line.
import { apiKey, setApiKey } from '/ui/api.js';
import { searchPage } from '/ui/search.js';
import { clusterPage } from '/ui/cluster.js';
import { indexPage } from '/ui/indexes.js';

const main = document.getElementById('page');
const status = document.getElementById('status');
let stop = null;

export function say(text, bad = false) {
  status.textContent = text;
  status.classList.toggle('bad', bad);
}

async function route() {
  if (stop) { stop(); stop = null; }
  const [page, ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  const name = page || 'search';
  for (const a of document.querySelectorAll('header nav a[data-page]')) a.classList.toggle('active', a.dataset.page === name);
  main.replaceChildren();
  try {
    if (name === 'cluster') stop = await clusterPage(main, say);
    else if (name === 'index') stop = await indexPage(main, say, decodeURIComponent(rest.join('/')));
    else stop = await searchPage(main, say);
  } catch (e) {
    say(e.message, true);
  }
}

const keyInput = document.getElementById('api-key');
keyInput.value = apiKey();
keyInput.addEventListener('change', () => { setApiKey(keyInput.value.trim()); route(); });
window.addEventListener('hashchange', route);
route();

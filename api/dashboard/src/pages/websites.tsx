import { useState } from 'preact/hooks';
import { api, type Website } from '../api.js';
import { CopyButton, Empty, ErrorNote, Loading, useAsync, useTitle } from '../components/ui.js';
import { href } from '../router.js';

const INGEST_STORAGE = 'goalpost.ingestUrl';

/** Where the trackers load from: ingest, which by default listens on port 3100 of this host. */
function defaultIngestUrl(): string {
  return localStorage.getItem(INGEST_STORAGE) ?? `${location.protocol}//${location.hostname}:3100`;
}

/** The tag of each of the tracker's three faces (ingest/README.md, "Drop-in"). */
export function snippets(site: Website, ingest: string): Array<{ face: string; code: string }> {
  const base = ingest.replace(/\/+$/, '');
  return [
    {
      face: 'Goalpost',
      code: `<script defer src="${base}/script.js" data-website-id="${site.id}"></script>`,
    },
    {
      face: 'Sparklytics tag',
      code: `<script defer src="${base}/s.js" data-website-id="${site.id}"></script>`,
    },
    {
      face: 'Rybbit tag',
      code: `<script async src="${base}/api/script.js" data-site-id="${site.numeric_id}"></script>`,
    },
  ];
}

export function Websites() {
  useTitle('Websites');
  const sites = useAsync((signal) => api<{ data: Website[] }>('/api/websites', { signal }), []);
  const [ingest, setIngest] = useState(defaultIngestUrl);

  return (
    <main id="main" tabIndex={-1}>
      <h1>Websites</h1>
      {sites.error && <ErrorNote error={sites.error} />}
      {!sites.data && sites.loading && <Loading what="websites" />}
      {sites.data?.data.length === 0 && (
        <Empty title="No websites yet">
          <p>Create the first one, then paste its tracker tag into your pages:</p>
          <pre>
            <code>npm run cli -- sites create --name Shop --domain shop.example.com</code>
          </pre>
          <p>
            or <code>POST /api/websites</code> with an all-sites key. A key limited to some websites
            sees only those.
          </p>
        </Empty>
      )}
      {sites.data && sites.data.data.length > 0 && (
        <>
          <label class="ingest-url">
            Tracker host (where ingest is reachable from your visitors)
            <input
              type="url"
              value={ingest}
              onInput={(e) => {
                setIngest(e.currentTarget.value);
                localStorage.setItem(INGEST_STORAGE, e.currentTarget.value);
              }}
            />
          </label>
          <ul class="cards">
            {sites.data.data.map((s) => (
              <li class="card" key={s.id}>
                <h2>
                  <a href={href(`/sites/${s.id}`)}>{s.name}</a>
                </h2>
                <p class="muted">
                  {s.domain} · time zone {s.timezone} · bots: {s.bot_policy}
                </p>
                <dl class="ids">
                  <dt>Website id</dt>
                  <dd>
                    <code>{s.id}</code>
                  </dd>
                  <dt>Numeric id</dt>
                  <dd>
                    <code>{s.numeric_id}</code>
                  </dd>
                </dl>
                <nav class="links" aria-label={`${s.name} pages`}>
                  <a href={href(`/sites/${s.id}`)}>Goals</a>
                  <a href={href(`/sites/${s.id}/funnels`)}>Funnels</a>
                  <a href={href(`/sites/${s.id}/live`)}>Live</a>
                </nav>
                <details>
                  <summary>Tracker snippets</summary>
                  {snippets(s, ingest).map((sn) => (
                    <div class="snippet" key={sn.face}>
                      <div class="snippet-head">
                        <span>{sn.face}</span>
                        <CopyButton
                          text={sn.code}
                          label={`Copy the ${sn.face} snippet of ${s.name}`}
                        />
                      </div>
                      <pre>
                        <code>{sn.code}</code>
                      </pre>
                    </div>
                  ))}
                </details>
              </li>
            ))}
          </ul>
        </>
      )}
    </main>
  );
}

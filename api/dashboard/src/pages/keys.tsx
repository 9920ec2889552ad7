import { useState } from 'preact/hooks';
import { api, ApiError, type ApiKey, type Website } from '../api.js';
import { CopyButton, ErrorNote, Loading, TableWrap, useAsync, useTitle } from '../components/ui.js';
import { fmtDateTime } from '../format.js';

/** API keys: list, create (the secret shown once) and revoke; all-sites manage keys only. */
export function Keys() {
  useTitle('API keys');
  const keys = useAsync((signal) => api<{ data: ApiKey[] }>('/api/keys', { signal }), []);
  const sites = useAsync((signal) => api<{ data: Website[] }>('/api/websites', { signal }), []);
  const [created, setCreated] = useState<ApiKey | null>(null);
  const [confirm, setConfirm] = useState<string | null>(null);
  const [revokeError, setRevokeError] = useState<Error | null>(null);
  const siteName = (id: string) => sites.data?.data.find((s) => s.id === id)?.name ?? id;

  const revoke = async (id: string) => {
    setRevokeError(null);
    try {
      await api(`/api/keys/${encodeURIComponent(id)}`, { method: 'DELETE' });
      setConfirm(null);
      keys.reload();
    } catch (err) {
      setRevokeError(err as Error);
    }
  };

  return (
    <main id="main" tabIndex={-1}>
      <h1>API keys</h1>
      {keys.error instanceof ApiError && keys.error.status === 403 ? (
        <p class="notice">Only a manage key for all websites may manage keys.</p>
      ) : (
        keys.error && <ErrorNote error={keys.error} />
      )}
      {created?.key && (
        <section class="created-key" aria-labelledby="created-h">
          <h2 id="created-h">Key “{created.name}” created</h2>
          <p>Copy it now: this is the only time it is shown.</p>
          <div class="secret">
            <label for="new-key" class="visually-hidden">
              The new API key
            </label>
            <input
              id="new-key"
              readOnly
              value={created.key}
              onFocus={(e) => e.currentTarget.select()}
            />
            <CopyButton text={created.key} label="Copy the new API key" />
          </div>
          <button type="button" class="secondary small" onClick={() => setCreated(null)}>
            Done, I stored it
          </button>
        </section>
      )}
      {!keys.error && (
        <CreateKey
          sites={sites.data?.data ?? []}
          onCreated={(k) => {
            setCreated(k);
            keys.reload();
          }}
        />
      )}
      {revokeError && <ErrorNote error={revokeError} />}
      {!keys.data && keys.loading && <Loading what="keys" />}
      {keys.data && (
        <TableWrap label="API keys">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Key</th>
                <th scope="col">Websites</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {keys.data.data.map((k) => (
                <tr key={k.id} data-key-id={k.id}>
                  <th scope="row">{k.name}</th>
                  <td>{k.kind}</td>
                  <td>
                    <code>{k.key_prefix}…</code>
                  </td>
                  <td>{k.website_ids === null ? 'all' : k.website_ids.map(siteName).join(', ')}</td>
                  <td>{fmtDateTime(k.created_at)}</td>
                  <td>{k.last_used_at ? fmtDateTime(k.last_used_at) : '–'}</td>
                  <td>
                    {k.revoked_at ? (
                      `revoked ${fmtDateTime(k.revoked_at)}`
                    ) : confirm === k.id ? (
                      <span role="group" aria-label={`Confirm revoking ${k.name}`}>
                        <button
                          type="button"
                          class="danger small"
                          onClick={() => void revoke(k.id)}
                        >
                          Revoke now
                        </button>{' '}
                        <button
                          type="button"
                          class="secondary small"
                          onClick={() => setConfirm(null)}
                        >
                          Cancel
                        </button>
                      </span>
                    ) : (
                      <button
                        type="button"
                        class="secondary small"
                        aria-label={`Revoke ${k.name}`}
                        onClick={() => setConfirm(k.id)}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </main>
  );
}

function CreateKey({ sites, onCreated }: { sites: Website[]; onCreated: (k: ApiKey) => void }) {
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'manage' | 'collect'>('manage');
  const [scope, setScope] = useState<'all' | 'some'>('all');
  const [chosen, setChosen] = useState<string[]>([]);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const field = error instanceof ApiError ? error.field : null;

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const res = await api<{ data: ApiKey }>('/api/keys', {
        method: 'POST',
        body: { name, kind, website_ids: scope === 'all' ? null : chosen },
      });
      setName('');
      setChosen([]);
      onCreated(res.data);
    } catch (err) {
      setError(err as Error);
    }
  };
  const nameErr = field === 'name';
  const sitesErr = field?.startsWith('website_ids') ?? false;
  return (
    <details class="create-key">
      <summary>Create a key</summary>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <div class="field">
          <label for="key-name">Name</label>
          <input
            id="key-name"
            value={name}
            aria-invalid={nameErr ? 'true' : undefined}
            aria-describedby={nameErr ? 'key-name-error' : undefined}
            onInput={(e) => setName(e.currentTarget.value)}
          />
          {nameErr && (
            <p class="field-error" id="key-name-error">
              {error!.message}
            </p>
          )}
        </div>
        <fieldset>
          <legend>Kind</legend>
          <label>
            <input
              type="radio"
              name="kind"
              checked={kind === 'manage'}
              onChange={() => setKind('manage')}
            />{' '}
            Manage: the API and this dashboard
          </label>
          <label>
            <input
              type="radio"
              name="kind"
              checked={kind === 'collect'}
              onChange={() => setKind('collect')}
            />{' '}
            Collect: may only send events (for a tracker tag)
          </label>
        </fieldset>
        <fieldset aria-describedby={sitesErr ? 'key-sites-error' : undefined}>
          <legend>Websites</legend>
          <label>
            <input
              type="radio"
              name="scope"
              checked={scope === 'all'}
              onChange={() => setScope('all')}
            />{' '}
            All websites
          </label>
          <label>
            <input
              type="radio"
              name="scope"
              checked={scope === 'some'}
              onChange={() => setScope('some')}
            />{' '}
            Only these:
          </label>
          {scope === 'some' && (
            <div class="site-choices">
              {sites.map((s) => (
                <label key={s.id}>
                  <input
                    type="checkbox"
                    checked={chosen.includes(s.id)}
                    onChange={(e) =>
                      setChosen(
                        e.currentTarget.checked
                          ? [...chosen, s.id]
                          : chosen.filter((c) => c !== s.id),
                      )
                    }
                  />{' '}
                  {s.name}
                </label>
              ))}
            </div>
          )}
          {sitesErr && (
            <p class="field-error" id="key-sites-error">
              {error!.message}
            </p>
          )}
        </fieldset>
        {error && !nameErr && !sitesErr && <ErrorNote error={error} />}
        <button type="submit">Create key</button>
      </form>
    </details>
  );
}

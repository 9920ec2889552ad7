import { useState } from 'preact/hooks';
import { api, ApiError, type Website } from '../api.js';
import { useTitle } from '../components/ui.js';

/**
 * Sign in by pasting an API key. The key is checked with `GET /api/websites` before it is kept
 * (in sessionStorage, by the caller); it never goes into a URL or a cookie.
 */
export function SignIn({
  onSignedIn,
  notice,
}: {
  onSignedIn: (key: string) => void;
  notice?: string;
}) {
  useTitle('Sign in');
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const k = key.trim();
    if (!k) {
      setError('Paste an API key.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api<{ data: Website[] }>('/api/websites', { key: k });
      onSignedIn(k);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? 'This key is not valid (unknown, mistyped or revoked).'
          : err instanceof ApiError && err.status === 403
            ? 'This is a collect key: it can only send events. Use a manage key.'
            : (err as Error).message,
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="sign-in" tabIndex={-1}>
      <h1>Sign in to Goalpost</h1>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <form onSubmit={(e) => void submit(e)} noValidate>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autoComplete="off"
          spellcheck={false}
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
          aria-invalid={error ? 'true' : undefined}
          aria-describedby={error ? 'api-key-error api-key-help' : 'api-key-help'}
        />
        {error && (
          <p id="api-key-error" class="field-error">
            {error}
          </p>
        )}
        <p id="api-key-help" class="help">
          A manage key (<code>spk_selfhosted_…</code>). Create one with{' '}
          <code>npm run cli -- keys create --name dashboard</code>. It is kept in this tab only and
          forgotten when you sign out or close the tab.
        </p>
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  api,
  ApiError,
  clearKey,
  getKey,
  setKey,
  setUnauthorizedHandler,
  sitePath,
  type Website,
} from './api.js';
import { ErrorNote, Loading, useAsync } from './components/ui.js';
import { Funnels } from './pages/funnels.js';
import { GoalForm } from './pages/goal-form.js';
import { GoalPage } from './pages/goal.js';
import { Goals } from './pages/goals.js';
import { Keys } from './pages/keys.js';
import { Live } from './pages/live.js';
import { SignIn } from './pages/sign-in.js';
import { Websites } from './pages/websites.js';
import { href, useRoute, type Route } from './router.js';
import './styles.css';

function App() {
  const [key, setKeyState] = useState<string | null>(getKey);
  const [notice, setNotice] = useState<string | undefined>();
  const route = useRoute();

  useEffect(() => {
    setUnauthorizedHandler(() => {
      clearKey();
      setKeyState(null);
      setNotice('The API no longer accepts this key (revoked or wrong). Sign in again.');
    });
  }, []);

  if (!key) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(k) => {
          setKey(k);
          setNotice(undefined);
          setKeyState(k);
        }}
      />
    );
  }
  const signOut = () => {
    clearKey();
    setKeyState(null);
    setNotice('Signed out. The key was removed from this tab.');
  };
  return <Shell route={route} onSignOut={signOut} />;
}

function Shell({ route, onSignOut }: { route: Route; onSignOut: () => void }) {
  // A key that may manage keys (all-sites manage key) sees the Keys page.
  const canManageKeys = useAsync(
    (signal) =>
      api('/api/keys', { signal }).then(
        () => true,
        (err: Error) =>
          err instanceof ApiError && err.status === 403 ? false : Promise.reject(err),
      ),
    [],
  );
  const [first] = route.segments;
  return (
    <>
      <a
        class="skip"
        href="#main"
        onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}
      >
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href('/')}>
          Goalpost
        </a>
        <nav aria-label="Main">
          <a
            href={href('/')}
            aria-current={first === undefined || first === 'sites' ? 'page' : undefined}
          >
            Websites
          </a>
          {canManageKeys.data && (
            <a href={href('/keys')} aria-current={first === 'keys' ? 'page' : undefined}>
              API keys
            </a>
          )}
        </nav>
        <button type="button" class="secondary small" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <Page route={route} />
    </>
  );
}

function Page({ route }: { route: Route }) {
  // A new page (not a new range or filter on the same page) moves focus to its content, so a
  // screen reader announces it and the keyboard starts from there.
  const path = route.path;
  const seen = useRef(path);
  useEffect(() => {
    if (seen.current === path) return;
    seen.current = path;
    document.getElementById('main')?.focus();
  }, [path]);
  const [first, siteId] = route.segments;
  if (first === 'keys') return <Keys />;
  if (first === 'sites' && siteId) return <SitePage siteId={siteId} route={route} />;
  return <Websites />;
}

/** The pages of one website, once it is loaded (404 / 403 for a key that may not see it). */
function SitePage({ siteId, route }: { siteId: string; route: Route }) {
  const site = useAsync((signal) => api<{ data: Website }>(sitePath(siteId), { signal }), [siteId]);
  if (site.error) {
    return (
      <main id="main" tabIndex={-1}>
        <h1>Website</h1>
        <ErrorNote error={site.error} />
        <p>
          <a href={href('/')}>All websites</a>
        </p>
      </main>
    );
  }
  if (!site.data) return <Loading what="the website" />;
  const s = site.data.data;
  const [, , section, id, action] = route.segments;
  if (section === 'live') return <Live site={s} route={route} />;
  if (section === 'funnels') return <Funnels site={s} route={route} />;
  if (section === 'goals' && id === 'new') return <GoalForm site={s} goalId={null} route={route} />;
  if (section === 'goals' && id && action === 'edit')
    return <GoalForm site={s} goalId={id} route={route} />;
  if (section === 'goals' && id) {
    return <GoalPage key={`${id}?${route.query.toString()}`} site={s} goalId={id} route={route} />;
  }
  return <Goals site={s} route={route} />;
}

render(<App />, document.getElementById('app')!);

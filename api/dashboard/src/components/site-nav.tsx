import { href } from '../router.js';
import type { Website } from '../api.js';

/** The pages of one website; `query` carries the range, time zone and filters across them. */
export function SiteNav({
  site,
  active,
  query,
}: {
  site: Website;
  active: 'goals' | 'funnels' | 'live';
  query: URLSearchParams;
}) {
  const link = (id: typeof active, path: string, label: string) => (
    <a
      href={href(path, id === 'live' ? undefined : query)}
      aria-current={active === id ? 'page' : undefined}
    >
      {label}
    </a>
  );
  return (
    <nav class="site-nav" aria-label={`${site.name} pages`}>
      <span class="site-name">{site.name}</span>
      {link('goals', `/sites/${site.id}`, 'Goals')}
      {link('funnels', `/sites/${site.id}/funnels`, 'Funnels')}
      {link('live', `/sites/${site.id}/live`, 'Live')}
    </nav>
  );
}

/**
 * The visitor's language: the payload's (`en-US`), else the first Accept-Language entry.
 * Returns a BCP 47-looking tag of at most 35 characters, or null.
 */
export function languageOf(
  payload: string | null | undefined,
  acceptLanguage: string | undefined,
): string | null {
  const fromPayload = clean(payload);
  if (fromPayload) return fromPayload;
  if (!acceptLanguage) return null;
  const first = acceptLanguage.split(',')[0]?.split(';')[0];
  return clean(first);
}

function clean(tag: string | null | undefined): string | null {
  if (!tag) return null;
  const t = tag.trim();
  if (t === '' || t === '*' || !/^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/.test(t)) return null;
  return t.slice(0, 35);
}

/** Following HTTP redirects, as browsers do for a GET: 301, 302, 303, 307 and 308, to http(s) URLs only. */
import { HttpRedirectError } from './errors.js';
import { HttpGet, type HttpGetOptions } from './get.js';

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export interface RedirectingGetOptions extends HttpGetOptions {
  /** Redirects followed before giving up. */
  maxRedirects: number;
}

/**
 * Sends a GET for `url` and for each redirect's target in turn, up to `maxRedirects` of them; resolves with
 * the first answer that is not a redirect. Rejects with an HttpRedirectError when there are more, or one
 * has no usable Location.
 */
export async function sendFollowingRedirects(url: string, options: RedirectingGetOptions): Promise<HttpGet> {
  for (let redirects = 0; ; redirects++) {
    const get = await HttpGet.send(url, options);
    if (!REDIRECT_STATUSES.has(get.status)) return get;
    try {
      await get.discardBody();
      if (redirects >= options.maxRedirects) {
        throw new HttpRedirectError(`more than ${options.maxRedirects} redirects, last to ${url}`, url);
      }
      url = redirectTarget(get.headers.location, url);
    } finally {
      get.close();
    }
  }
}

/** The absolute URL a Location header points to, resolved against the URL that answered with it. */
function redirectTarget(location: string | undefined, from: string): string {
  if (location === undefined) throw new HttpRedirectError(`redirect without a Location header from ${from}`, from);
  let target: URL;
  try {
    target = new URL(location, from);
  } catch {
    throw new HttpRedirectError(`redirect to an invalid URL ${JSON.stringify(location)} from ${from}`, from);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new HttpRedirectError(`redirect to unsupported ${target.protocol} URL from ${from}`, from);
  }
  // A fragment is never sent to the server.
  target.hash = '';
  return target.href;
}

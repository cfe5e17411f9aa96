/** The HTTP client shared by trackers and web seeds: keep-alive pools and timed, abortable GETs on node:http(s). */
export { createHttpAgents, type HttpAgents, type HttpAgentsOptions } from './agents.js';
export { HttpGet, type HttpGetOptions, type HttpPhase } from './get.js';
export { sendFollowingRedirects, type RedirectingGetOptions } from './redirects.js';
export { HttpConnectionError, HttpError, HttpRedirectError, HttpTimeoutError } from './errors.js';

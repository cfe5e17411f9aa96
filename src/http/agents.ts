/** Keep-alive connection pools, one per scheme. */
import * as http from 'node:http';
import * as https from 'node:https';

export interface HttpAgents {
  readonly http: http.Agent;
  readonly https: https.Agent;
}

export interface HttpAgentsOptions {
  /** Parallel connections per host; further requests wait for a free one. Default: no limit. */
  connectionsPerHost?: number;
  /** How long an idle connection is kept for the next request. */
  idleTimeoutMs: number;
}

export function createHttpAgents(options: HttpAgentsOptions): HttpAgents {
  const pool: http.AgentOptions = {
    keepAlive: true,
    maxSockets: options.connectionsPerHost,
    // For a pooled idle socket this is how long it stays. Idle sockets are unref'd by the agent, so they
    // never keep the process alive.
    timeout: options.idleTimeoutMs,
  };
  return { http: new http.Agent(pool), https: new https.Agent(pool) };
}

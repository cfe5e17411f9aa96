/** Benchmark settings from the environment, shared by every benchmark in bench/. */

export interface BenchConfig {
  /** BENCH_SIZE_MIB: payload size. */
  sizeMiB: number;
  /** BENCH_RUNS: runs of each client. */
  runs: number;
  /** BENCH_CLIENTS: comma-separated subset of the benchmark's clients, in the given order. */
  clients: string[];
  /** BENCH_TIMEOUT_S: a run still going after this long is killed and counted as failed. */
  timeoutS: number;
}

function positiveInteger(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got "${text}"`);
  return value;
}

export function readConfig(knownClients: readonly string[], defaults: { sizeMiB: number }): BenchConfig {
  const clients = (process.env.BENCH_CLIENTS ?? knownClients.join(','))
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
  const unknown = clients.filter((c) => !knownClients.includes(c));
  if (unknown.length > 0 || clients.length === 0) {
    throw new Error(`BENCH_CLIENTS: unknown client(s) ${unknown.join(', ') || '(none given)'}; known: ${knownClients.join(',')}`);
  }
  const sizeMiB = positiveInteger('BENCH_SIZE_MIB', defaults.sizeMiB);
  return {
    sizeMiB,
    runs: positiveInteger('BENCH_RUNS', 3),
    clients,
    // Generous: 2 MiB/s would be a failure worth reporting, not a result.
    timeoutS: positiveInteger('BENCH_TIMEOUT_S', Math.max(120, Math.ceil(sizeMiB / 2))),
  };
}

import http from 'node:http';

/** How one request ended: answered (status and body) or failed (why). */
export type Outcome = { status: number; body: string } | { error: string };

/** The `code` of a Goalpost error body (`{"error":{"code":…}}`), or null. */
export const errorCode = (body: string): string | null =>
  /"code":"([^"]+)"/.exec(body)?.[1] ?? null;

/**
 * An open-loop HTTP client for load generation: a request is sent when the schedule says so,
 * whether or not the earlier ones were answered. Keep-alive sockets, at most one per request
 * in flight and `maxInFlight` in all; a request due while that many are in flight is not sent
 * and fails at once (`in-flight limit`). It is never queued in the agent, which would delay it
 * silently and turn the load into a closed loop that slows down with the server.
 */
export class OpenLoopClient {
  private readonly agent: http.Agent;
  inFlight = 0;

  constructor(
    private readonly target: { host: string; port: number },
    private readonly maxInFlight: number,
    private readonly timeoutMs: number,
  ) {
    this.agent = new http.Agent({
      keepAlive: true,
      maxSockets: maxInFlight,
      maxFreeSockets: maxInFlight,
    });
  }

  /** Sends `method path` now (or fails it at once, see above); `done` is called once. */
  request(
    method: 'GET' | 'POST',
    path: string,
    headers: Record<string, string>,
    body: string | null,
    done: (outcome: Outcome) => void,
  ): void {
    if (this.inFlight >= this.maxInFlight) {
      done({ error: 'in-flight limit' });
      return;
    }
    this.inFlight++;
    let finished = false;
    const finish = (o: Outcome) => {
      if (finished) return;
      finished = true;
      this.inFlight--;
      done(o);
    };
    const req = http.request(
      {
        ...this.target,
        method,
        path,
        agent: this.agent,
        headers:
          body === null ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish({ status, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err: NodeJS.ErrnoException) => finish({ error: err.code ?? err.message }));
      },
    );
    req.setTimeout(this.timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => finish({ error: err.code ?? err.message }));
    req.end(body ?? undefined);
  }

  close(): void {
    this.agent.destroy();
  }
}

import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { createHttpApp } from './http-app.js';

describe('createHttpApp: closing', () => {
  it('closes the connection of a request still unanswered when the grace period ends', async () => {
    const app = createHttpApp(createLogger('test-http-app', 'silent'), { closeGraceMs: 100 });
    let arrived!: () => void;
    const arriving = new Promise<void>((r) => (arrived = r));
    // A handler waiting on a dependency that never answers.
    app.get('/stuck', () => {
      arrived();
      return new Promise(() => undefined);
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.write('GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n');
    await arriving;
    // Without the grace period close() waits for the request forever (the test times out).
    await app.close();
    await closed;
    expect(socket.destroyed).toBe(true);
  });
});

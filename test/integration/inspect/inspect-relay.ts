// The inspection relay as an operator runs it: `@statelyai/inspect/server` (createInspectorServer)
// in its own process, on a free local port, and the package's own receiving side
// (createWebSocketReceiver) connected to it, recording every inspection event it is given.
//
// A separate process, not one inside the test: createInspectorServer's stop() leaves connected
// sockets open and the receiver has no way to close its own, so only ending the process closes both.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createWebSocketReceiver, type StatelyInspectionEvent } from '@statelyai/inspect';
import { eventually } from '../../support/services.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export interface InspectRelay {
  port: number;
  /** What a hub's feed is given: the relay's WebSocket URL. */
  url: string;
  /** Every event the receiver got, in arrival order. */
  received: StatelyInspectionEvent[];
  /** The received events about one actor (its session id). */
  about(sessionId: string): StatelyInspectionEvent[];
  stop(): Promise<void>;
}

/** `port`: the one a relay that stopped had (a restarted relay); default a free one. */
export async function startInspectRelay(port?: number): Promise<InspectRelay> {
  port ??= await freePort();
  const child = spawn(process.execPath, [
    '--input-type=module', '-e',
    `import { createInspectorServer } from '@statelyai/inspect/server';
     createInspectorServer({ port: ${port}, autoOpen: false });`,
  ], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await eventually(() => accepts(port), `the inspection relay to listen on ${port}`, 10_000);
  } catch (e) {
    await end(child, exited);
    throw e;
  }
  const url = `ws://127.0.0.1:${port}`;
  const received: StatelyInspectionEvent[] = [];
  createWebSocketReceiver({ server: url }).subscribe((event) => received.push(event));
  return {
    port,
    url,
    received,
    about: (sessionId) => received.filter((e) => e.sessionId === sessionId),
    stop: () => end(child, exited),
  };
}

async function end(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await exited;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

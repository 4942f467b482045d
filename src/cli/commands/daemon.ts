/** `lanfence daemon`: follow Docker, repair drift, serve the local API. */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { Option } from 'commander';
import { BACKEND_NAMES } from '../../backends/index.js';
import { UsageError } from '../../errors.js';
import { runCommand } from '../../exec.js';
import { loadDockerInventory } from '../../inventory/docker.js';
import { loadPolicy } from '../../policy/load.js';
import { StateStore } from '../../state/store.js';
import { VERSION } from '../../version.js';
import { DEFAULT_SOCKET, serveApi } from '../../daemon/api.js';
import { Daemon } from '../../daemon/daemon.js';
import { dockerSubscriber } from '../../daemon/docker-events.js';
import { watchFirewalldReloads } from '../../daemon/firewalld-signal.js';
import { DropLog } from '../../daemon/drop-log.js';
import { DropFeed } from '../../daemon/drops.js';
import { createHttpServer, DEFAULT_HTTP, isLoopback, listen, parseListen } from '../../daemon/http.js';
import { Metrics } from '../../daemon/metrics.js';
import type { CommandModule } from './types.js';

/** The built dashboard, beside the compiled code (dist/web). */
const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

export const daemonCommand: CommandModule = {
  name: 'daemon',
  register(program, io) {
    program
      .command('daemon')
      .description('follow Docker (networks, containers, labels), repair drift, serve the local API (root)')
      .option('-p, --policy <file>', 'policy file (re-read on SIGHUP)')
      .addOption(new Option('-b, --backend <name>', 'backend (default: the policy\'s)').choices([...BACKEND_NAMES, 'auto']))
      .option('--interval <seconds>', 'drift check period', '5')
      .option('--socket <path>', 'local API socket', DEFAULT_SOCKET)
      .option('--http <host:port>', 'metrics, JSON API and dashboard ("off" to disable)', DEFAULT_HTTP)
      .option('--token-file <file>', 'token required by the HTTP server (mandatory when not on loopback)')
      .action(async (opts: { policy?: string; backend?: string; interval: string; socket: string; http: string; tokenFile?: string }) => {
        const listenOn = opts.http === 'off' ? null : parseListen(opts.http);
        const token = opts.tokenFile ? readFileSync(opts.tokenFile, 'utf8').trim() : undefined;
        if (listenOn && !isLoopback(listenOn.host) && !token) throw new UsageError(`--http ${opts.http} is not loopback: give --token-file`);
        if (opts.tokenFile && !token) throw new UsageError(`--token-file ${opts.tokenFile} is empty`);
        const seconds = Number(opts.interval);
        if (!(seconds >= 0.2 && seconds <= 3600)) throw new UsageError(`--interval: expected seconds between 0.2 and 3600, got "${opts.interval}"`);
        const log = (m: string) => io.err(`${new Date().toISOString()} ${m}`);
        loadPolicy(opts.policy); // refuse to start on an invalid policy (PolicyError → exit 2)
        const docker = new Docker({ timeout: 10_000 } as Docker.DockerOptions);
        const store = new StateStore();
        const daemon = new Daemon({
          loadPolicy: () => loadPolicy(opts.policy),
          inventory: () => loadDockerInventory(docker),
          // The event stream is idle for long stretches: its client must have no socket timeout.
          subscribe: dockerSubscriber(new Docker()),
          run: runCommand,
          store,
          backend: opts.backend,
          version: VERSION,
          checkIntervalMs: seconds * 1000,
          log,
        });
        await daemon.start();
        const server = await serveApi(daemon, opts.socket);
        const stopWatch = watchFirewalldReloads(() => daemon.trigger('firewalld reloaded', [300, 1500, 4000]), log);
        log(`local API on ${opts.socket}`);
        const metrics = new Metrics();
        const drops = new DropFeed();
        const dropLog = new DropLog({ daemon, store, feed: drops, metrics, log });
        void dropLog.run();
        let http: Server | null = null;
        if (listenOn) {
          // The JSON API (and explain, plan and the policy parser behind it) loads on the dashboard's first request.
          const api = async () => (await import('../../daemon/web-api.js')).webApi({ daemon, store, drops, suggestions: (r) => dropLog.suggestions(r) });
          http = createHttpServer({ metrics, beforeScrape: () => metrics.update(daemon.state), drops, api, webDir: WEB_DIR, token });
          await listen(http, listenOn.host, listenOn.port);
          log(`metrics, API and dashboard on http://${opts.http}/`);
        }
        await new Promise<void>((resolve) => {
          process.on('SIGHUP', () => {
            log('SIGHUP: re-reading the policy');
            void daemon.reload();
          });
          const shutdown = (sig: string) => {
            log(`${sig}: stopping (the rules stay in place)`);
            stopWatch();
            dropLog.stop();
            server.close();
            http?.close();
            http?.closeAllConnections();
            void daemon.stop().then(resolve);
          };
          process.once('SIGTERM', () => shutdown('SIGTERM'));
          process.once('SIGINT', () => shutdown('SIGINT'));
        });
      });
  },
};

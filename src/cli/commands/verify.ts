/**
 * `lanfence verify`: prove the applied policy on the live host — one connection attempt from each
 * container (or a probe namespace on a network without containers) to each blocked range, the host and
 * each exception, judged by the blocked-packet counter and compared with explain. Exit 0 only when
 * every cell matches.
 */
import Docker from 'dockerode';
import { EXIT } from '../../errors.js';
import { runCommand } from '../../exec.js';
import { StateStore } from '../../state/store.js';
import { formatReport, verify, type VerifyProgress } from '../../verify/index.js';
import { outputState, printJson, type Io } from '../output.js';
import { progress } from '../progress.js';
import type { CommandModule } from './types.js';

const HELP = `
Sources (one of; default --all):
  --container NAME   that container, probed from inside its network namespace
  --network NAME     the containers on that network; without any, a temporary probe namespace
                     attached to its bridge (a veth, removed afterwards)
  --all              every container lanfence can filter, and a probe namespace for each bridge
                     network without containers

Destinations: an address inside each blocked range (network address + 123, moved off Docker's
subnets, the host's addresses and exceptions), the source's gateway and the host's other addresses
(ip -j addr), each exception's destination with one of its ports, and with --internet ADDR[:PORT]
(port 443 by default) a TCP connection that must succeed.

Each cell is expected/observed: drop (the blocked-packet counter rose with the probe), pass (it did
not), log (audit mode), open/closed (--internet). Probes that should be blocked go one at a time
between two counter reads, so in enforce mode the kernel drops them before they reach any LAN host.
In audit mode nothing is dropped: verify refuses unless --force.

Needs root. Exit 0 when every cell matches; ${EXIT.mismatch} when a cell differs (they are listed by
container × destination); 5 when nothing was applied or lanfence's rules are gone; 64 for a usage
error or audit mode without --force.`;

/** Phase lines on stderr; on a terminal also a live counter of probes. Quiet with --json unless on a terminal. */
export function verifyProgress(io: Io, enabled: boolean, tty: boolean, write: (s: string) => void = (s) => process.stderr.write(s)): VerifyProgress {
  const step = progress(io, enabled);
  let lineOpen = false;
  let lastQuarter = 0;
  const clear = () => {
    if (lineOpen) write('\r\x1b[K');
    lineOpen = false;
  };
  return {
    step: (text) => {
      clear();
      step(text);
    },
    tick: (done, total, what) => {
      if (!enabled) return;
      if (tty) {
        write(`\r\x1b[K… ${done}/${total} probes: ${what}`);
        lineOpen = true;
        return;
      }
      const quarter = Math.floor((done * 4) / total);
      if (quarter > lastQuarter) {
        lastQuarter = quarter;
        step(`${done}/${total} probes`);
      }
    },
    end: clear,
  };
}

interface VerifyFlags {
  container?: string;
  network?: string;
  all?: boolean;
  internet?: string;
  force?: boolean;
  json?: boolean;
}

export const verifyCommand: CommandModule = {
  name: 'verify',
  register(program, io, setExit) {
    program
      .command('verify')
      .description('prove the applied policy on this host: probe from inside each container, compare with explain (root)')
      .option('-c, --container <name>', 'verify one container')
      .option('-n, --network <name>', 'verify the containers of one network (or a probe namespace on it)')
      .option('-a, --all', 'verify every container and network (the default)')
      .option('--internet <addr>', 'also check that a TCP connection to ADDR[:PORT] (443) succeeds from each source')
      .option('--force', 'probe even in audit mode (the packets really leave)')
      .option('--json', 'the truth table as data on stdout')
      .addHelpText('after', HELP)
      .action(async (opts: VerifyFlags) => {
        outputState.json = !!opts.json;
        const tty = !!process.stderr.isTTY;
        const report = await verify({
          ...(opts.container !== undefined ? { container: opts.container } : {}),
          ...(opts.network !== undefined ? { network: opts.network } : {}),
          all: !!opts.all,
          ...(opts.internet !== undefined ? { internet: opts.internet } : {}),
          force: !!opts.force,
          run: runCommand,
          store: new StateStore(),
          docker: new Docker({ timeout: 10_000 } as Docker.DockerOptions),
          progress: verifyProgress(io, !opts.json || tty, tty),
        });
        if (opts.json) printJson(io, report);
        else io.out(formatReport(report, Number(process.env.COLUMNS) || process.stdout.columns || 120).join('\n'));
        setExit(report.ok ? EXIT.ok : EXIT.mismatch);
      });
  },
};

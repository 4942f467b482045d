/**
 * The kernel log (/dev/kmsg), for audit-mode checks: LOG output from the lab's namespaces reaches
 * it once `net.netfilter.nf_log_all_netns=1`. Records carry a sequence number, so a test takes a
 * cursor before probing and reads only what came after; lines are parsed by src/logs (LogParser).
 */
import { closeSync, constants, openSync, readSync } from 'node:fs';

export interface KmsgRecord {
  seq: number;
  text: string;
}

/** Every record currently in the ring buffer with a sequence number above `after`. */
export function readKmsg(after = -1): KmsgRecord[] {
  const fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
  const buf = Buffer.alloc(16 * 1024);
  const out: KmsgRecord[] = [];
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') break; // end of the buffer
        if (code === 'EPIPE') continue; // a record was overwritten while reading: go on
        throw e;
      }
      if (n <= 0) break;
      const rec = buf.toString('utf8', 0, n);
      const semi = rec.indexOf(';');
      const seq = Number(rec.slice(0, semi).split(',')[1]);
      if (seq > after) out.push({ seq, text: rec.slice(semi + 1).split('\n')[0] });
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** The sequence number of the newest record (a cursor for `readKmsg`). */
export const kmsgCursor = (): number => readKmsg().reduce((m, r) => Math.max(m, r.seq), -1);

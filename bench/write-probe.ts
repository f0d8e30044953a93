import BetterSqlite3 from "better-sqlite3";
import { parentPort, workerData } from "node:worker_threads";

/**
 * Another writer on the same file, in its own thread: it takes and releases the write lock
 * (BEGIN IMMEDIATE; COMMIT) every ~half millisecond and records how long it had to wait.
 * The longest wait is the longest write-lock hold the measured code imposed on everyone else.
 * No busy timeout: SQLite's busy handler sleeps in growing steps (up to 100 ms), which would
 * overstate the hold; the probe retries itself every 0.2 ms instead.
 */
const db = new BetterSqlite3(workerData as string);
const sleep = new Int32Array(new SharedArrayBuffer(4));
let stop = false;
let longest = 0;
let probes = 0;
parentPort!.on("message", () => {
  stop = true;
});

function probeOnce(): void {
  const started = performance.now();
  for (;;) {
    try {
      db.exec("BEGIN IMMEDIATE");
      break;
    } catch (err) {
      if ((err as { code?: string }).code !== "SQLITE_BUSY") throw err;
      Atomics.wait(sleep, 0, 0, 0.2);
    }
  }
  longest = Math.max(longest, performance.now() - started);
  db.exec("COMMIT");
  probes++;
}

/** Yields to the message loop now and then, so the stop message gets through. */
function loop(): void {
  const until = performance.now() + 20;
  while (performance.now() < until) {
    probeOnce();
    Atomics.wait(sleep, 0, 0, 0.5);
  }
  if (stop) {
    db.close();
    parentPort!.postMessage({ longest, probes });
  } else setImmediate(loop);
}
loop();

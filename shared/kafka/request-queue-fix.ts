/**
 * kafkajs 2.2.4's per-connection RequestQueue re-arms a timer on every check even when nothing
 * is waiting: `throttledUntil - Date.now()` is negative when not throttled, so the next check
 * runs 1 ms later, and so on, for every broker connection for the life of the process
 * (tulios/kafkajs#1704). On Node 24 each such timer also logs a TimeoutNegativeWarning
 * (tulios/kafkajs#1751). Fixed upstream in open PRs #1755/#1768, not released.
 *
 * The fix applied here, at import, is the one proposed in #1768's review: with no pending
 * request and no throttle in force there is nothing to check later, so no timer is armed. A
 * request that cannot be sent at once is pushed to `pending` and schedules its own check, and
 * every response triggers a check, so no request waits on the removed timer.
 *
 * The package version is pinned in package.json; if the internals change shape, the patch is
 * not applied (and a test fails).
 */
import { createRequire } from 'node:module';

interface QueueInternals {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: unknown;
  scheduleCheckPendingRequests: (this: QueueInternals) => void;
}

const require = createRequire(import.meta.url);
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as {
  prototype: QueueInternals & { __goalpostIdleTimerFix?: true };
};

export const requestQueueFixApplied: boolean = (() => {
  const proto = RequestQueue.prototype;
  if (typeof proto.scheduleCheckPendingRequests !== 'function') return false;
  if (proto.__goalpostIdleTimerFix) return true;
  const original = proto.scheduleCheckPendingRequests;
  proto.scheduleCheckPendingRequests = function (this: QueueInternals) {
    if (this.pending.length === 0 && this.throttledUntil <= Date.now()) return;
    original.call(this);
  };
  proto.__goalpostIdleTimerFix = true;
  return true;
})();

/**
 * `RejectedRecordsError` lives in the runtime (`@optibid/runtime`, runtime/core/sink.ts), which
 * dead-letters exactly the records it lists; re-exported here so existing sink imports keep working.
 */
export { RejectedRecordsError } from '@optibid/runtime';
